"""Refresh is off by default (FastAPI Users' responses exactly) and refuses bad settings at construction."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.authentication.strategy._opaque import new_token, session_id_of
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.sessions import RefreshSettings
from fastapi_userkit.sessions.tokens import child_refresh_token, is_refresh_token, new_refresh_token
from tests.app_factory import SECRET, make_app
from tests.conftest import SessionMaker
from tests.models import RefreshToken, User, UserSession
from tests.router.helpers import client_for
from tests.sessions.conftest import StoreCase
from tests.sessions.harness import Clock, refresh_app, refresh_harness


async def test_disabled_by_default(http_db: SessionMaker) -> None:
    """Without refresh settings, login and logout answer exactly as in FastAPI Users, and there is no /refresh."""
    test_app = make_app(http_db)
    async with client_for(test_app.app) as client:
        await client.post("/auth/register", json={"email": "arthur@camelot.bt", "password": "a long passphrase"})
        credentials = {"username": "arthur@camelot.bt", "password": "a long passphrase"}
        bearer = await client.post("/auth/jwt/login", data=credentials)
        cookie = await client.post("/auth/cookie/login", data=credentials)
        client.cookies.clear()
        refresh = await client.post("/auth/jwt/refresh", json={"refresh_token": "x"})
        logout = await client.post(
            "/auth/jwt/logout", headers={"Authorization": f"Bearer {bearer.json()['access_token']}"}
        )

    assert bearer.status_code == 200
    assert list(bearer.json()) == ["access_token", "token_type"]
    assert len(cookie.headers.get_list("set-cookie")) == 1
    assert refresh.status_code == 404
    assert (logout.status_code, logout.content, logout.headers.get("set-cookie")) == (204, b"", None)


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret": "short"},
        {"absolute_lifetime_seconds": 0},
        {"idle_timeout_seconds": 0},
        {"idle_timeout_seconds": 10, "absolute_lifetime_seconds": 5},
        {"reuse_grace_seconds": -1},
        {"reuse_grace_seconds": 61},
        {"cookie_name": ""},
    ],
)
def test_bad_settings_fail_at_construction(overrides: dict[str, Any]) -> None:
    """Each out-of-range refresh setting raises ConfigurationError when the settings are built."""
    store = SQLAlchemySessionStore(async_sessionmaker(), UserSession, RefreshToken)
    arguments: dict[str, Any] = {"store": store, "secret": SECRET, **overrides}

    with pytest.raises(ConfigurationError):
        RefreshSettings(**arguments)


class _HeaderOnlyTransport(BearerTransport):
    """A custom transport that knows nothing of refresh tokens."""

    get_login_response_with_refresh = None  # type: ignore[assignment]  # what a transport without the method looks like


def test_transport_without_refresh_support_is_refused() -> None:
    """A backend with refresh on and a transport that cannot carry a refresh token fails at construction."""
    store = SQLAlchemySessionStore(async_sessionmaker(), UserSession, RefreshToken)
    settings = RefreshSettings(store=store, secret=SECRET)

    def get_strategy() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, 60)

    with pytest.raises(ConfigurationError):
        AuthenticationBackend("custom", _HeaderOnlyTransport("login"), get_strategy, refresh=settings)


def test_refresh_tokens_have_a_form_of_their_own() -> None:
    """Refresh tokens carry a prefix and 256 bits; children are deterministic and distinct from their parent."""
    token = new_refresh_token()
    child = child_refresh_token(SECRET, token)

    assert is_refresh_token(token)
    assert is_refresh_token(child)
    assert child == child_refresh_token(SECRET, token)
    assert child not in {token, child_refresh_token(SECRET + "x", token)}
    assert not is_refresh_token(new_token("hash"))
    assert not is_refresh_token(token + "=")


def test_opaque_access_tokens_name_their_session() -> None:
    """A session-bound opaque token starts with its session id; an unbound one names none."""
    session_id = str(uuid.uuid4())

    assert session_id_of(new_token("hash", session_id)) == session_id
    assert session_id_of(new_token("hash")) is None


async def test_tampered_session_in_a_database_token_is_refused(store_case: StoreCase) -> None:
    """Swapping the session id of a database token breaks its stored digest: 401."""
    clock = Clock()
    test_app = refresh_app(store_case.session_maker, store_case.store, kind="database", clock=clock)
    async for harness in refresh_harness(test_app, store_case.store, clock):
        await harness.register("arthur@camelot.bt")
        pair = await harness.login_pair("bearer", "arthur@camelot.bt")
        other = await harness.login_pair("bearer", "arthur@camelot.bt")
        _, rest = pair.access.split(".", 1)
        forged = f"{other.access.split('.', 1)[0]}.{rest}"

        assert await harness.me_status(pair.session()) == 200
        status = (await harness.client.get("/users/me", headers={"Authorization": f"Bearer {forged}"})).status_code
        assert status == 401
