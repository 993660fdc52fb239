"""The README's step-up example: its routes refuse a stale or one-factor sign-in; its client re-authenticates."""

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select

from fastapi_userkit.authentication.assurance import Assurance
from tests.readme_examples import run_examples

PASSWORD = "excalibur-is-mine-1189"
EMAIL = "arthur@camelot.bt"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_step_up_example(in_tmp_dir: Path) -> None:
    """A sign-in ten minutes old gets the 401; the example's client re-authenticates and the retry passes."""
    namespace = run_examples("quickstart", "step-up")
    app: FastAPI = namespace["app"]
    two_factor_user = namespace["two_factor_user"]

    @app.get("/two-factor-only")
    async def two_factor_only(user: Any = Depends(two_factor_user)) -> str:  # noqa: B008 - FastAPI's style
        return str(user.email)

    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
        async with namespace["async_session_maker"]() as session:
            user = (await session.execute(select(namespace["User"]))).scalar_one()
        stale = await namespace["auth_backend"].write_token(
            namespace["get_jwt_strategy"](), user, assurance=Assurance(1, int(time.time()) - 600)
        )
        refused = await client.post("/api-keys/rotate", headers={"Authorization": f"Bearer {stale}"})
        fresh, response = await namespace["call_with_step_up"](client, "/api-keys/rotate", stale, PASSWORD)
        one_factor = await client.get("/two-factor-only", headers={"Authorization": f"Bearer {fresh}"})
    await namespace["engine"].dispose()

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].endswith('max_age="300"')
    assert fresh != stale
    assert response.status_code == 200
    assert response.json()["aal"] == 1
    assert response.json()["auth_time"] >= int(time.time()) - 60
    assert one_factor.status_code == 401
    assert one_factor.json() == {"detail": "INSUFFICIENT_USER_AUTHENTICATION"}
    assert 'acr_values="aal2"' in one_factor.headers["www-authenticate"]
