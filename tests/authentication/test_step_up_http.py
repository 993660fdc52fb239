"""current_user(aal=..., fresh_within=...) and POST /reauthenticate over HTTP (issue 18, item 4).

On SQLite, PostgreSQL and MariaDB: a request that falls short gets RFC 9470's 401, and passes
after a sign-in with assurance 2 or a re-authentication.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import httpx
import pytest
from fastapi import Depends

from fastapi_userkit.authentication import JWTStrategy
from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.authentication.reauthentication import Reauthentication, SessionEnded
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.jwt import decode_jwt
from tests.app_factory import SECRET, TestApp, make_app
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock, code_at
from tests.mfa.http_support import clear_rate_limits, enrol, mfa_app
from tests.models import User
from tests.router.helpers import PASSWORD, bearer, client_for, create_user, fetch_user, login

EMAIL = "user@example.com"
AAL2_CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A second factor is required: authenticate again with it.", acr_values="aal2"'
)
STALE_CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="The sign-in is not recent enough: authenticate again.", max_age="60"'
)


def add_step_up_routes(test_app: TestApp) -> None:
    """Routes of an app that ask for more: level 2, a sign-in within 60 s, both, optional, with the token."""
    # No ``from __future__ import annotations`` in this module: FastAPI reads these routes'
    # annotations at run time, and they name local dependencies.
    users = test_app.fastapi_users
    aal2 = users.current_user(active=True, aal=2)
    fresh = users.current_user(active=True, fresh_within=60)
    both = users.current_user(active=True, aal=2, fresh_within=60)
    optional = users.current_user(optional=True, aal=2)
    with_token = users.authenticator.current_user_token(active=True, aal=2)
    app = test_app.app

    @app.get("/step-up/aal2")
    async def need_aal2(user: Annotated[User, Depends(aal2)]) -> str:
        return user.email

    @app.get("/step-up/fresh")
    async def need_fresh(user: Annotated[User, Depends(fresh)]) -> str:
        return user.email

    @app.get("/step-up/both")
    async def need_both(user: Annotated[User, Depends(both)]) -> str:
        return user.email

    @app.get("/step-up/optional")
    async def maybe(user: Annotated[User | None, Depends(optional)]) -> str | None:
        return None if user is None else user.email

    @app.get("/step-up/token")
    async def need_token(user_token: Annotated[tuple[User, str], Depends(with_token)]) -> str:
        return user_token[1]


@pytest.fixture
async def test_app(db: SessionMaker) -> TestApp:
    """The documented app (JWT over Bearer and cookie) with the step-up routes, on every database."""
    await clear_rate_limits(db)
    app = make_app(db)
    add_step_up_routes(app)
    await create_user(app, EMAIL)
    return app


@pytest.fixture
async def client(test_app: TestApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``test_app``."""
    async with client_for(test_app.app) as client:
        yield client


async def _token(test_app: TestApp, assurance: Assurance | None, backend: str = "jwt") -> str:
    """A token of ``backend`` for the user, as a sign-in with ``assurance`` would issue it."""
    user = await fetch_user(test_app, EMAIL)
    assert user is not None
    return await test_app.backends[backend].write_token(JWTStrategy(SECRET, 3600), user, assurance=assurance)


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


async def test_a_password_sign_in_is_level_one_and_fresh(client: httpx.AsyncClient) -> None:
    """A login's token carries aal 1 and its auth_time: fresh routes pass, level-2 routes answer RFC 9470's 401."""
    before = _now()
    token = await login(client)
    claims = decode_jwt(token, SECRET, ["fastapi-users:auth"])

    refused = await client.get("/step-up/aal2", headers=bearer(token))

    assert claims["aal"] == 1
    assert before <= claims["auth_time"] <= _now()
    assert (await client.get("/users/me", headers=bearer(token))).status_code == 200
    assert (await client.get("/step-up/fresh", headers=bearer(token))).json() == EMAIL
    assert refused.status_code == 401
    assert refused.json() == {"detail": "INSUFFICIENT_USER_AUTHENTICATION"}
    assert refused.headers["www-authenticate"] == AAL2_CHALLENGE
    assert (await client.get("/step-up/optional", headers=bearer(token))).json() is None


async def test_a_sign_in_with_assurance_two_passes_level_two(client: httpx.AsyncClient, test_app: TestApp) -> None:
    """A token issued for a two-factor sign-in passes ``aal=2``, alone and with freshness, and with its token."""
    token = await _token(test_app, Assurance(2, _now()))

    assert (await client.get("/step-up/aal2", headers=bearer(token))).json() == EMAIL
    assert (await client.get("/step-up/both", headers=bearer(token))).json() == EMAIL
    assert (await client.get("/step-up/optional", headers=bearer(token))).json() == EMAIL
    assert (await client.get("/step-up/token", headers=bearer(token))).json() == token


async def test_an_old_sign_in_is_refused_with_max_age(client: httpx.AsyncClient, test_app: TestApp) -> None:
    """A sign-in older than ``fresh_within`` answers 401 with ``max_age``; both shortfalls are named together."""
    token = await _token(test_app, Assurance(1, _now() - 120))

    stale = await client.get("/step-up/fresh", headers=bearer(token))
    both = await client.get("/step-up/both", headers=bearer(token))

    assert stale.status_code == 401
    assert stale.json() == {"detail": "INSUFFICIENT_USER_AUTHENTICATION"}
    assert stale.headers["www-authenticate"] == STALE_CHALLENGE
    assert both.status_code == 401
    assert both.headers["www-authenticate"].endswith('acr_values="aal2", max_age="60"')


@pytest.mark.parametrize("kind", ["app-issued", "no-assurance"])
async def test_tokens_without_assurance_are_level_one_never_fresh(
    client: httpx.AsyncClient, test_app: TestApp, kind: str
) -> None:
    """A token from ``write_token(user)`` or without assurance authenticates as before but is never fresh."""
    if kind == "app-issued":
        user = await fetch_user(test_app, EMAIL)
        assert user is not None
        token = await JWTStrategy[User, uuid.UUID](SECRET, 3600).write_token(user)
    else:
        token = await _token(test_app, None)

    assert (await client.get("/users/me", headers=bearer(token))).status_code == 200
    assert (await client.get("/step-up/fresh", headers=bearer(token))).headers["www-authenticate"] == STALE_CHALLENGE
    assert (await client.get("/step-up/aal2", headers=bearer(token))).status_code == 401


async def test_reauthentication_makes_an_old_sign_in_fresh(client: httpx.AsyncClient, test_app: TestApp) -> None:
    """POST /reauthenticate with the password answers a fresh token of the same kind as a login's."""
    old = await _token(test_app, Assurance(1, _now() - 120))

    response = await client.post("/auth/jwt/reauthenticate", json={"password": PASSWORD}, headers=bearer(old))
    fresh = response.json()["access_token"]

    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "token_type"}
    assert decode_jwt(fresh, SECRET, ["fastapi-users:auth"])["aal"] == 1
    assert (await client.get("/step-up/fresh", headers=bearer(fresh))).json() == EMAIL
    assert (await client.get("/step-up/fresh", headers=bearer(old))).status_code == 401


async def test_reauthentication_refuses_a_wrong_password_and_anonymous_clients(
    client: httpx.AsyncClient, test_app: TestApp
) -> None:
    """A wrong password answers 400 REAUTHENTICATE_BAD_CREDENTIALS; no token 401; a missing password 422."""
    token = await login(client)

    wrong = await client.post("/auth/jwt/reauthenticate", json={"password": "wrong"}, headers=bearer(token))
    anonymous = await client.post("/auth/jwt/reauthenticate", json={"password": PASSWORD})
    empty = await client.post("/auth/jwt/reauthenticate", json={}, headers=bearer(token))

    assert wrong.status_code == 400
    assert wrong.json() == {"detail": "REAUTHENTICATE_BAD_CREDENTIALS"}
    assert anonymous.status_code == 401
    assert empty.status_code == 422
    assert test_app.hooks.names().count("on_after_login") == 1  # the login only: no hook for a re-authentication


async def test_wrong_reauthentications_count_as_failed_logins(client: httpx.AsyncClient) -> None:
    """Wrong passwords at re-authentication use the account's login budget: after five, the login answers 429."""
    token = await login(client)

    answers = [
        (await client.post("/auth/jwt/reauthenticate", json={"password": "wrong"}, headers=bearer(token))).status_code
        for _ in range(5)
    ]
    next_login = await client.post("/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD})

    assert answers == [400] * 5
    assert next_login.status_code == 429


async def test_reauthentication_through_the_cookie_backend_sets_a_fresh_cookie(
    client: httpx.AsyncClient, test_app: TestApp
) -> None:
    """The cookie backend answers 204 with a new auth cookie; a bearer token of another backend is refused."""
    old = await _token(test_app, Assurance(1, _now() - 120), backend="cookie")
    jwt_token = await _token(test_app, Assurance(1, _now() - 120), backend="jwt")

    response = await client.post(
        "/auth/cookie/reauthenticate",
        json={"password": PASSWORD},
        headers={"Cookie": f"fastapiusersauth={old}", "Origin": "http://test"},
    )
    cookie = response.cookies["fastapiusersauth"]
    client.cookies.clear()
    other_backend = await client.post(
        "/auth/cookie/reauthenticate", json={"password": PASSWORD}, headers=bearer(jwt_token)
    )

    assert response.status_code == 204
    assert cookie != old
    assert (await client.get("/step-up/fresh", headers={"Cookie": f"fastapiusersauth={cookie}"})).json() == EMAIL
    assert other_backend.status_code == 401


async def test_a_session_ended_during_reauthentication_answers_401(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the token's session ends between the checks and the renewal, the route answers 401, no token."""

    async def ended(*args: object, **kwargs: object) -> None:
        raise SessionEnded()

    monkeypatch.setattr(Reauthentication, "renew", ended)
    token = await login(client)

    response = await client.post("/auth/jwt/reauthenticate", json={"password": PASSWORD}, headers=bearer(token))

    assert response.status_code == 401
    assert "access_token" not in response.text


def test_step_up_parameters_are_checked_when_the_dependency_is_built(test_app: TestApp) -> None:
    """``aal`` must be 1 or 2 and ``fresh_within`` positive, refused at construction."""
    with pytest.raises(ConfigurationError, match="1 or 2"):
        test_app.fastapi_users.current_user(aal=3)
    with pytest.raises(ConfigurationError, match="positive"):
        test_app.fastapi_users.current_user(fresh_within=0)


@pytest.fixture
async def mfa_test_app(db: SessionMaker) -> TestApp:
    """The documented app with two-factor login and the step-up routes, on every database."""
    await clear_rate_limits(db)
    app = mfa_app(db, Clock())
    add_step_up_routes(app)
    await create_user(app, EMAIL)
    return app


async def test_reauthentication_with_the_second_factor_reaches_level_two(mfa_test_app: TestApp) -> None:
    """A user with TOTP re-authenticates with password and code to aal 2; without or with a wrong code, 400."""
    mfa_settings = mfa_test_app.fastapi_users.mfa
    assert mfa_settings is not None
    clock = mfa_settings.clock
    assert isinstance(clock, Clock)
    async with client_for(mfa_test_app.app) as client:
        token = await login(client)
        enrolled = await enrol(client, clock, bearer(token))
        clock.advance(30)  # the next TOTP step: the enrolment's code is spent
        code = code_at(enrolled.secret, clock.now)
        url = "/auth/jwt/reauthenticate"

        no_code = await client.post(url, json={"password": PASSWORD}, headers=bearer(token))
        wrong_code = await client.post(url, json={"password": PASSWORD, "code": "000000"}, headers=bearer(token))
        right = await client.post(url, json={"password": PASSWORD, "code": code}, headers=bearer(token))
        stepped_up = right.json()["access_token"]
        replayed = await client.post(url, json={"password": PASSWORD, "code": code}, headers=bearer(stepped_up))

        assert (await client.get("/step-up/aal2", headers=bearer(token))).status_code == 401
        assert no_code.json() == {"detail": "REAUTHENTICATE_CODE_REQUIRED"}
        assert wrong_code.json() == {"detail": "MFA_INVALID_CODE"}
        assert right.status_code == 200
        assert (await client.get("/step-up/both", headers=bearer(stepped_up))).json() == EMAIL
        assert replayed.status_code == 400
        assert replayed.json() == {"detail": "MFA_CODE_REPLAYED"}
