"""The README's passkey examples: the app's wiring and the API client's two ceremonies, run end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from tests.passkeys.authenticator import SoftAuthenticator
from tests.readme_examples import run_examples

PASSWORD = "excalibur-is-mine-1189"
EMAIL = "arthur@camelot.bt"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_passkeys_example(in_tmp_dir: Path) -> None:
    """A signed-in user adds a passkey through the example's routes, then signs in with it alone, at AAL2."""
    namespace = run_examples("quickstart", "passkeys", "passkeys-client")
    app: FastAPI = namespace["app"]
    add_passkey, sign_in_with_passkey = namespace["add_passkey"], namespace["sign_in_with_passkey"]
    authenticator = SoftAuthenticator("http://localhost:8000")
    strong = namespace["fastapi_users"].current_user(active=True, aal=2)

    @app.get("/aal2")
    async def aal2(user: Any = Depends(strong)) -> dict[str, str]:  # noqa: B008 - FastAPI's documented style
        return {"email": str(user.email)}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
            await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
            login = await client.post("/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD})
            password_token = login.json()["access_token"]
            added = await add_passkey(client, password_token, authenticator.create, "Phone")
            passkey_token = await sign_in_with_passkey(client, authenticator.get)
            strong_answer = await client.get("/aal2", headers={"Authorization": f"Bearer {passkey_token}"})
            weak_answer = await client.get("/aal2", headers={"Authorization": f"Bearer {password_token}"})
            with pytest.raises(httpx.HTTPStatusError) as refused:
                await sign_in_with_passkey(client, lambda options: authenticator.get(options, origin="https://evil.bt"))
    await namespace["engine"].dispose()

    assert added["name"] == "Phone"
    assert strong_answer.json() == {"email": EMAIL}
    assert weak_answer.status_code == 401
    assert refused.value.response.json() == {"detail": "PASSKEY_WRONG_ORIGIN"}
