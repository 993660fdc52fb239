"""docs/passkeys.md's examples: the app with passwordless sign-up and the API client's calls, run end to end."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.passkeys.authenticator import SoftAuthenticator
from tests.readme_examples import run_examples

EMAIL = "merlin@camelot.bt"
PASSWORD = "excalibur-is-mine-1189"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_passkeys_accounts_example(in_tmp_dir: Path) -> None:
    """Sign up with a passkey, step up, set a password, sign in with it, then remove it again with a passkey."""
    namespace = run_examples("quickstart", "passkeys-accounts-app", "passkeys-accounts-client")
    app: FastAPI = namespace["app"]
    authenticator = SoftAuthenticator("http://localhost:8000")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
            token = await namespace["sign_up_with_passkey"](client, EMAIL, authenticator.create)
            with pytest.raises(httpx.HTTPStatusError) as taken:
                await namespace["sign_up_with_passkey"](
                    client, EMAIL, SoftAuthenticator("http://localhost:8000").create
                )
            stepped_up = await namespace["step_up_with_passkey"](client, token, authenticator.get)
            await namespace["set_first_password"](client, stepped_up, PASSWORD)
            login = await client.post("/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD})
            with pytest.raises(httpx.HTTPStatusError) as weak:
                await namespace["remove_password"](client, login.json()["access_token"])
            strong = await namespace["step_up_with_passkey"](client, login.json()["access_token"], authenticator.get)
            await namespace["remove_password"](client, strong)
            after = await client.post("/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD})
    await namespace["engine"].dispose()

    assert taken.value.response.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"}
    assert login.status_code == 200, login.text
    assert weak.value.response.status_code == 401
    assert after.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}
