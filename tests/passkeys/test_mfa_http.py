"""Passkeys with two-factor login (SQLite and PostgreSQL): a passkey without user verification is one factor.

Regression tests of the outside review's F1: through ``FastAPIUsers(mfa=...).get_passkeys_router``
a non-UV passkey sign-in of a user with TOTP gets the ``202 MFA_REQUIRED`` challenge, a UV one
completes at AAL2, and managing the passkeys of such a user needs a fresh AAL2 sign-in (T43).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fastapi_userkit.passkeys import PasskeyService, PasskeySettings
from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock, code_at
from tests.mfa.http_support import EMAIL, answer, bearer_token, clear_rate_limits, enrol, mfa_app
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN, RP_ID, challenge_store, credential_store
from tests.router.helpers import bearer, client_for, create_user

STEP_UP = 'error="insufficient_user_authentication"'


@pytest.fixture
def mfa_clock() -> Clock:
    """The two-factor settings' clock (TOTP codes are computed at its time)."""
    return Clock()


def passkey_mfa_app(session_maker: SessionMaker, clock: Clock) -> TestApp:
    """The documented app with two-factor login and ``fastapi_users.get_passkeys_router`` on the bearer backend."""
    test_app = mfa_app(session_maker, clock)
    settings = PasskeySettings(rp_id=RP_ID, rp_name="Camelot", origins=(ORIGIN,), user_verification="preferred")

    async def get_passkey_service() -> AsyncIterator[PasskeyService]:
        credentials, challenges = credential_store(session_maker), challenge_store(session_maker)
        yield PasskeyService(settings, credentials, challenges)
        await credentials.session.close()
        await challenges.session.close()

    users = test_app.fastapi_users
    test_app.app.include_router(
        users.get_passkeys_router(test_app.backends["jwt"], get_passkey_service), prefix="/auth/jwt"
    )
    return test_app


async def register(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, headers: dict[str, str], *, uv: bool
) -> httpx.Response:
    """Register a passkey of ``authenticator`` for the user of ``headers``."""
    options = await client.post("/auth/jwt/passkeys/register/options", headers=headers)
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json(), uv=uv)
    return await client.post("/auth/jwt/passkeys/register", json={"credential": credential}, headers=headers)


async def passkey_login(client: httpx.AsyncClient, authenticator: SoftAuthenticator, *, uv: bool) -> httpx.Response:
    """A usernameless passkey sign-in with ``authenticator``."""
    options = await client.post("/auth/jwt/passkeys/login/options")
    credential = authenticator.get(options.json(), uv=uv)
    return await client.post("/auth/jwt/passkeys/login", json={"credential": credential})


async def test_a_passkey_without_user_verification_is_challenged(http_db: SessionMaker, mfa_clock: Clock) -> None:
    """A TOTP user's non-UV passkey sign-in gets the 202 challenge, whose code gives an AAL2 token."""
    await clear_rate_limits(http_db)
    test_app = passkey_mfa_app(http_db, mfa_clock)
    await create_user(test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(test_app.app) as client:
        headers = await bearer_token(client)
        registered = await register(client, authenticator, headers, uv=False)
        enrolled = await enrol(client, mfa_clock, headers)
        mfa_clock.advance(30)
        challenged = await passkey_login(client, authenticator, uv=False)
        completed = await answer(
            client, challenged.json().get("challenge_token", ""), code_at(enrolled.secret, mfa_clock.now)
        )
        strong = bearer(completed.json().get("access_token", ""))
        renamed = await client.patch(
            f"/auth/jwt/passkeys/{registered.json()['id']}", json={"name": "Laptop"}, headers=strong
        )

    assert registered.status_code == 201, registered.text
    assert challenged.status_code == 202, challenged.text
    assert challenged.json()["detail"] == "MFA_REQUIRED"
    assert "access_token" not in challenged.json()
    assert completed.status_code == 200, completed.text
    assert renamed.status_code == 204, renamed.text


async def test_a_passkey_with_user_verification_signs_in_at_once(http_db: SessionMaker, mfa_clock: Clock) -> None:
    """A UV passkey is two factors in one: a TOTP user signs in with it directly, at AAL2 (can manage passkeys)."""
    await clear_rate_limits(http_db)
    test_app = passkey_mfa_app(http_db, mfa_clock)
    await create_user(test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(test_app.app) as client:
        headers = await bearer_token(client)
        assert (await register(client, authenticator, headers, uv=True)).status_code == 201
        await enrol(client, mfa_clock, headers)
        signed_in = await passkey_login(client, authenticator, uv=True)
        strong = bearer(signed_in.json()["access_token"])
        listed = await client.get("/auth/jwt/passkeys", headers=strong)
        another = await register(client, SoftAuthenticator(ORIGIN), strong, uv=True)

    assert signed_in.status_code == 200, signed_in.text
    assert len(listed.json()) == 1
    assert another.status_code == 201, another.text


async def test_a_user_without_a_factor_signs_in_with_any_passkey(http_db: SessionMaker, mfa_clock: Clock) -> None:
    """With two-factor login on, a user without a factor signs in with a non-UV passkey and manages passkeys."""
    await clear_rate_limits(http_db)
    test_app = passkey_mfa_app(http_db, mfa_clock)
    await create_user(test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(test_app.app) as client:
        headers = await bearer_token(client)
        registered = await register(client, authenticator, headers, uv=False)
        signed_in = await passkey_login(client, authenticator, uv=False)
        deleted = await client.delete(f"/auth/jwt/passkeys/{registered.json()['id']}", headers=headers)

    assert signed_in.status_code == 200, signed_in.text
    assert "access_token" in signed_in.json()
    assert deleted.status_code == 204, deleted.text


async def test_managing_passkeys_of_a_user_with_a_factor_needs_aal2(http_db: SessionMaker, mfa_clock: Clock) -> None:
    """A one-factor token of a TOTP user, however fresh, cannot add, rename or delete passkeys (RFC 9470 401)."""
    await clear_rate_limits(http_db)
    test_app = passkey_mfa_app(http_db, mfa_clock)
    await create_user(test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(test_app.app) as client:
        weak = await bearer_token(client)  # AAL1, taken before the factor existed
        registered = await register(client, authenticator, weak, uv=False)
        await enrol(client, mfa_clock, weak)
        passkey = f"/auth/jwt/passkeys/{registered.json()['id']}"
        options = await client.post("/auth/jwt/passkeys/register/options", headers=weak)
        added = await client.post("/auth/jwt/passkeys/register", json={"credential": {}}, headers=weak)
        renamed = await client.patch(passkey, json={"name": "Mine now"}, headers=weak)
        deleted = await client.delete(passkey, headers=weak)
        listed = await client.get("/auth/jwt/passkeys", headers=weak)

    for refused in (options, added, renamed, deleted):
        assert refused.status_code == 401, refused.text
        assert refused.json() == {"detail": "INSUFFICIENT_USER_AUTHENTICATION"}
        assert STEP_UP in refused.headers["www-authenticate"]
        assert 'acr_values="aal2"' in refused.headers["www-authenticate"]
    assert listed.status_code == 200, listed.text
