"""The README's current-password example: PATCH /users/me needs the current password to change the e-mail."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.readme_examples import run_examples

PASSWORD = "excalibur-is-mine-1189"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_current_password_example(in_tmp_dir: Path) -> None:
    """The example's app refuses an e-mail change without the current password and accepts it with."""
    namespace = run_examples("quickstart", "current-password")
    app: FastAPI = namespace["app"]

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.post("/auth/register", json={"email": "arthur@camelot.bt", "password": PASSWORD})
            login = await client.post("/auth/jwt/login", data={"username": "arthur@camelot.bt", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            refused = await client.patch("/users/me", json={"email": "king@camelot.bt"}, headers=headers)
            accepted = await client.patch(
                "/users/me", json={"email": "king@camelot.bt", "current_password": PASSWORD}, headers=headers
            )
    await namespace["engine"].dispose()

    assert (refused.status_code, refused.json()) == (400, {"detail": "UPDATE_USER_CURRENT_PASSWORD_REQUIRED"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["email"] == "king@camelot.bt"
