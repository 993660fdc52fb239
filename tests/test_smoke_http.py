"""A first end-to-end pass through the documented app."""

from __future__ import annotations

import httpx

from tests.app_factory import make_app
from tests.conftest import SessionMaker


async def test_register_login_me(http_db: SessionMaker) -> None:
    """Register, log in with the e-mail in another case, and read /users/me."""
    test_app = make_app(http_db)
    transport = httpx.ASGITransport(app=test_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        created = await client.post("/auth/register", json={"email": "Arthur@camelot.bt", "password": "guinevere"})
        assert created.status_code == 201, created.text
        login = await client.post("/auth/jwt/login", data={"username": "arthur@CAMELOT.bt", "password": "guinevere"})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        me = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert me.status_code == 200
    assert me.json()["email"] == "Arthur@camelot.bt"
