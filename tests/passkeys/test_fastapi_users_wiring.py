"""``FastAPIUsers.get_passkeys_router`` over HTTP (SQLite and PostgreSQL): the app's own wiring of the ceremonies."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends

from fastapi_userkit.passkeys import PasskeyService, PasskeySettings
from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker
from tests.models import User
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN, RP_ID, challenge_store, credential_store
from tests.router.helpers import bearer, client_for, create_user, login


def wired_app(session_maker: SessionMaker) -> TestApp:
    """The documented app with ``fastapi_users.get_passkeys_router(...)`` on both backends, and an AAL2 route."""
    test_app = make_app(session_maker)
    settings = PasskeySettings(rp_id=RP_ID, rp_name="Camelot", origins=(ORIGIN,))

    async def get_passkey_service() -> AsyncIterator[PasskeyService]:
        credentials, challenges = credential_store(session_maker), challenge_store(session_maker)
        yield PasskeyService(settings, credentials, challenges)
        await credentials.session.close()
        await challenges.session.close()

    users = test_app.fastapi_users
    for name, backend in test_app.backends.items():
        test_app.app.include_router(users.get_passkeys_router(backend, get_passkey_service), prefix=f"/auth/{name}")
    strong = users.authenticator.current_user(active=True, aal=2)

    @test_app.app.get("/aal2")
    async def aal2(user: User = Depends(strong)) -> dict[str, str]:  # noqa: B008 - FastAPI's documented style
        return {"id": str(user.id)}

    return test_app


async def test_the_method_registers_and_signs_in_at_aal2(http_db: SessionMaker) -> None:
    """A passkey registered through the method's routes signs its user in (bearer and cookie) at AAL2."""
    test_app = wired_app(http_db)
    user = await create_user(test_app)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(test_app.app) as client:
        headers = bearer(await login(client))
        options = await client.post("/auth/jwt/passkeys/register/options", headers=headers)
        credential = authenticator.create(options.json())
        registered = await client.post(
            "/auth/jwt/passkeys/register", json={"credential": credential, "name": "Phone"}, headers=headers
        )
        login_options = await client.post("/auth/jwt/passkeys/login/options")
        signed_in = await client.post(
            "/auth/jwt/passkeys/login", json={"credential": authenticator.get(login_options.json())}
        )
        strong = await client.get("/aal2", headers=bearer(signed_in.json()["access_token"]))
        cookie_options = await client.post("/auth/cookie/passkeys/login/options")
        cookie = await client.post(
            "/auth/cookie/passkeys/login", json={"credential": authenticator.get(cookie_options.json())}
        )
        client.cookies.clear()
        anonymous = await client.get("/auth/jwt/passkeys")

    assert registered.status_code == 201, registered.text
    assert signed_in.status_code == 200, signed_in.text
    assert strong.json() == {"id": str(user.id)}
    assert cookie.status_code == 204, cookie.text
    assert "set-cookie" in cookie.headers
    assert anonymous.status_code == 401


async def test_the_cookie_sign_in_checks_the_origin_with_the_app_s_security(http_db: SessionMaker) -> None:
    """The method passes the app's security settings: a cross-site passkey sign-in on the cookie backend is a 403."""
    test_app = wired_app(http_db)
    async with client_for(test_app.app) as client:
        refused = await client.post(
            "/auth/cookie/passkeys/login", json={"credential": {}}, headers={"Origin": "https://evil.example"}
        )

    assert refused.status_code == 403, refused.text
