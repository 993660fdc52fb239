"""An OAuth login on a backend with refresh tokens opens a session, like a password login."""

from __future__ import annotations

from tests.conftest import SessionMaker
from tests.oauth.flows import STATE_SECRET, https_client, oauth_login
from tests.oauth_provider import FakeProvider
from tests.sessions.harness import make_store, refresh_app


async def test_oauth_login_with_refresh_opens_a_session(http_db: SessionMaker, provider: FakeProvider) -> None:
    """The callback answers both tokens; the access token works and the session is listed."""
    test_app = refresh_app(http_db, make_store("sql", http_db, None))
    test_app.app.include_router(
        test_app.fastapi_users.get_oauth_router(provider.client(), test_app.backends["bearer"], STATE_SECRET),
        prefix="/auth/fake",
    )
    async with https_client(test_app.app) as client:
        callback = await oauth_login(client, provider, "alice")
        body = callback.json()
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        me = await client.get("/users/me", headers=headers)
        sessions = await client.get("/sessions", headers=headers)

    assert callback.status_code == 200, callback.text
    assert body["refresh_token"].startswith("ukrt_")
    assert me.json()["email"] == "alice@example.com"
    assert sessions.status_code == 200
    assert [session["current"] for session in sessions.json()] == [True]
