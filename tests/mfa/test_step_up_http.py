"""Step-up of the acting superuser and of a first enrolment (SQLite and PostgreSQL; T43).

Regression tests of the outside review's F2 and F3: a superuser with a factor removes another
user's factors or sets their e-mail or password only with their own fresh two-factor sign-in, and
a first factor is enrolled only from a recent sign-in (any level); both answer RFC 9470's ``401``.
"""

from __future__ import annotations

import time

import httpx

from fastapi_userkit.authentication import JWTStrategy
from fastapi_userkit.authentication.assurance import Assurance
from tests.app_factory import SECRET, TestApp
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock, code_at
from tests.mfa.http_support import (
    EMAIL,
    answer,
    bearer_token,
    challenge_token,
    clear_rate_limits,
    enrol,
    mfa_app,
    password_login,
)
from tests.models import User
from tests.router.helpers import bearer, client_for, create_user

ADMIN = "admin@example.com"
STEP_UP = 'error="insufficient_user_authentication"'


def assert_step_up(response: httpx.Response, *, aal2: bool) -> None:
    """``response`` is RFC 9470's refusal (asking for AAL2 or only for a recent sign-in)."""
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "INSUFFICIENT_USER_AUTHENTICATION"}
    challenge = response.headers["www-authenticate"]
    assert STEP_UP in challenge
    assert ('acr_values="aal2"' in challenge) is aal2
    if not aal2:
        assert 'max_age="300"' in challenge


async def stale_bearer(test_app: TestApp, user: User, age: int = 3600) -> dict[str, str]:
    """A bearer token of a one-factor sign-in ``age`` seconds ago (a long-lived session)."""
    strategy: JWTStrategy[User, object] = JWTStrategy(SECRET, 2 * age)
    assurance = Assurance(1, int(time.time()) - age)
    token = await test_app.backends["jwt"].write_token(strategy, user, assurance=assurance)  # type: ignore[arg-type]
    return bearer(token)


async def test_a_superuser_with_a_factor_needs_a_fresh_aal2_sign_in(http_db: SessionMaker, clock: Clock) -> None:
    """An admin's one-factor token cannot remove a user's factor or set their password; a two-factor sign-in can."""
    await clear_rate_limits(http_db)
    test_app = mfa_app(http_db, clock)
    await create_user(test_app, EMAIL)
    await create_user(test_app, ADMIN, is_superuser=True)
    async with client_for(test_app.app) as client:
        victim = await bearer_token(client)
        await enrol(client, clock, victim)
        victim_id = (await client.get("/users/me", headers=victim)).json()["id"]
        admin_weak = await bearer_token(client, ADMIN)  # AAL1, before the admin's own factor
        admin_factor = await enrol(client, clock, admin_weak)
        clock.advance(30)
        stripped = await client.delete(f"/users/{victim_id}/mfa", headers=admin_weak)
        password_set = await client.patch(
            f"/users/{victim_id}", json={"password": "admin-chosen-pass-1"}, headers=admin_weak
        )
        email_set = await client.patch(f"/users/{victim_id}", json={"email": "x@example.com"}, headers=admin_weak)
        renamed_flag = await client.patch(f"/users/{victim_id}", json={"is_verified": True}, headers=admin_weak)
        token = await challenge_token(client, email=ADMIN)
        admin_strong = bearer(
            (await answer(client, token, code_at(admin_factor.secret, clock.now))).json()["access_token"]
        )
        stripped_now = await client.delete(f"/users/{victim_id}/mfa", headers=admin_strong)
        password_now = await client.patch(
            f"/users/{victim_id}", json={"password": "admin-chosen-pass-1"}, headers=admin_strong
        )

    assert_step_up(stripped, aal2=True)
    assert_step_up(password_set, aal2=True)
    assert_step_up(email_set, aal2=True)
    assert renamed_flag.status_code == 200, renamed_flag.text  # no e-mail or password: no step-up
    assert stripped_now.status_code == 204, stripped_now.text
    assert password_now.status_code == 200, password_now.text


async def test_a_superuser_without_a_factor_is_asked_nothing_new(http_db: SessionMaker, clock: Clock) -> None:
    """FastAPI Users' behaviour for an admin without a factor: an hour-old token still resets a user's factor."""
    await clear_rate_limits(http_db)
    test_app = mfa_app(http_db, clock)
    await create_user(test_app, EMAIL)
    admin = await create_user(test_app, ADMIN, is_superuser=True)
    async with client_for(test_app.app) as client:
        victim = await bearer_token(client)
        await enrol(client, clock, victim)
        victim_id = (await client.get("/users/me", headers=victim)).json()["id"]
        admin_old = await stale_bearer(test_app, admin)
        stripped = await client.delete(f"/users/{victim_id}/mfa", headers=admin_old)
        password_set = await client.patch(
            f"/users/{victim_id}", json={"password": "admin-chosen-pass-1"}, headers=admin_old
        )
        login = await password_login(client, password="admin-chosen-pass-1")

    assert stripped.status_code == 204, stripped.text
    assert password_set.status_code == 200, password_set.text
    assert login.status_code == 200, login.text


async def test_a_first_factor_needs_a_recent_sign_in(http_db: SessionMaker, clock: Clock) -> None:
    """An hour-old session cannot begin or confirm a first enrolment (401 with max_age); a fresh one can."""
    await clear_rate_limits(http_db)
    test_app = mfa_app(http_db, clock)
    user = await create_user(test_app, EMAIL)
    async with client_for(test_app.app) as client:
        stale = await stale_bearer(test_app, user)
        begun_stale = await client.post("/users/me/mfa/totp", headers=stale)
        fresh = await bearer_token(client)
        begun = await client.post("/users/me/mfa/totp", headers=fresh)
        code = code_at(begun.json()["secret"], clock.now)
        confirmed_stale = await client.post("/users/me/mfa/totp/confirm", json={"code": code}, headers=stale)
        confirmed = await client.post("/users/me/mfa/totp/confirm", json={"code": code}, headers=fresh)
        login = await password_login(client)

    assert_step_up(begun_stale, aal2=False)
    assert_step_up(confirmed_stale, aal2=False)
    assert begun.status_code == 200, begun.text
    assert confirmed.status_code == 200, confirmed.text
    assert login.status_code == 202, login.text
