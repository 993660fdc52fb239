"""A token ended by the backend that issued it is dead in every backend of the app (issue 16, item 1).

The layouts are those of the README and the demo: a Bearer and a cookie backend over one
strategy factory, so both share the strategy's secret or storage; one of them has refresh on, or a
revoked-token table. Each test fails where a sibling backend takes up a token its issuer ended.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
    Strategy,
)
from fastapi_userkit.db.revoked_token import SQLAlchemyRevokedTokenDatabase
from fastapi_userkit.sessions import RefreshSettings
from tests.app_factory import SECRET, SessionDependency, TestApp, make_app
from tests.conftest import SessionMaker
from tests.models import RevokedToken, User
from tests.sessions.harness import Clock, RefreshHarness, make_store
from tests.strategies.apps import Harness, Kind, Session, backends_factory, harness_for

KINDS: list[Kind] = ["jwt", "jwt-table", "database", "redis"]
PASSWORD = "a long passphrase"


def _mixed_refresh_app(session_maker: SessionMaker, kind: Kind, redis_client: redis.asyncio.Redis) -> RefreshHarness:
    """Bearer (refresh off) and cookie (refresh on, SQL sessions) backends over one strategy of ``kind``."""
    clock = Clock()
    store = make_store("sql", session_maker, None)
    settings = RefreshSettings(store=store, secret=SECRET, clock=clock)
    plain = backends_factory(kind, redis_client)

    def build(get_session: SessionDependency) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
        backends = plain(get_session)
        cookie = backends["cookie"]
        backends["cookie"] = AuthenticationBackend("cookie", cookie.transport, cookie.get_strategy, refresh=settings)
        return backends

    test_app = make_app(session_maker, backends_factory=build)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=test_app.app), base_url="http://test")
    return RefreshHarness(test_app, client, store, clock)


@pytest.fixture(params=KINDS)
async def mixed(
    request: pytest.FixtureRequest, db: SessionMaker, redis_client: redis.asyncio.Redis
) -> AsyncIterator[RefreshHarness]:
    """The mixed layout over every strategy kind, on every database."""
    harness = _mixed_refresh_app(db, request.param, redis_client)
    async with harness.client:
        yield harness


def _as_bearer(token: str) -> Session:
    return Session("bearer", token)


async def test_cookie_logout_ends_the_token_for_the_bearer_backend(mixed: RefreshHarness) -> None:
    """After logout on the cookie backend (refresh on), its access token is refused as a Bearer token too."""
    await mixed.register("gawain@camelot.bt")
    pair = await mixed.login_pair("cookie", "gawain@camelot.bt")

    response = await mixed.client.post("/auth/cookie/logout", headers=pair.session().headers())

    assert response.status_code == 204
    assert await mixed.me_status(pair.session()) == 401
    assert await mixed.me_status(_as_bearer(pair.access)) == 401


async def test_token_of_one_backend_is_refused_by_its_sibling(mixed: RefreshHarness) -> None:
    """A live token authenticates through the backend that issued it only, in both directions."""
    await mixed.register("gareth@camelot.bt")
    cookie_pair = await mixed.login_pair("cookie", "gareth@camelot.bt")
    bearer = await mixed.login("bearer", "gareth@camelot.bt")

    assert await mixed.me_status(cookie_pair.session()) == 200
    assert await mixed.me_status(bearer) == 200
    assert await mixed.me_status(_as_bearer(cookie_pair.access)) == 401
    assert await mixed.me_status(Session("cookie", bearer.token)) == 401


async def test_reused_refresh_token_kills_the_stolen_access_token_everywhere(mixed: RefreshHarness) -> None:
    """Reuse detection ends the session: its access token is refused on /users/me and cannot change the e-mail."""
    await mixed.register("mordred@camelot.bt")
    stolen = await mixed.login_pair("cookie", "mordred@camelot.bt")
    rotated = await mixed.rotate(stolen)

    assert await mixed.refresh_status(stolen) == 401  # the old refresh token again: reuse, session ended

    assert await mixed.me_status(rotated.session()) == 401
    assert await mixed.me_status(_as_bearer(rotated.access)) == 401
    patch = await mixed.client.patch(
        "/users/me", json={"email": "thief@example.com"}, headers=_as_bearer(rotated.access).headers()
    )
    assert patch.status_code == 401
    assert (await mixed.user_by_email("mordred@camelot.bt")).email == "mordred@camelot.bt"


@pytest.fixture
async def revocable_and_plain(http_db: SessionMaker) -> AsyncIterator[Harness]:
    """A plain JWT Bearer backend beside a revocable JWT cookie backend, same secret and audience."""

    def build(get_session: SessionDependency) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
        def plain() -> JWTStrategy[User, uuid.UUID]:
            return JWTStrategy(SECRET, 3600)

        async def revocable(
            session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
        ) -> Strategy[User, uuid.UUID]:
            return JWTStrategy(SECRET, 3600, revoked_tokens=SQLAlchemyRevokedTokenDatabase(session, RevokedToken))

        return {
            "bearer": AuthenticationBackend("bearer", BearerTransport("auth/bearer/login"), plain),
            "cookie": AuthenticationBackend("cookie", CookieTransport(cookie_secure=False), revocable),
        }

    test_app: TestApp = make_app(http_db, backends_factory=build)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=test_app.app), base_url="http://test") as client:
        yield Harness(test_app, client)


async def test_revoked_jwt_is_refused_by_a_plain_jwt_sibling(revocable_and_plain: Harness) -> None:
    """A JWT revoked by the revocable backend's logout is not accepted by the plain JWT backend."""
    harness = revocable_and_plain
    await harness.register("kay@camelot.bt")
    session = await harness.login("cookie", "kay@camelot.bt")

    response = await harness.client.post("/auth/cookie/logout", headers=session.headers())

    assert response.status_code == 204
    assert await harness.me_status(session) == 401
    assert await harness.me_status(_as_bearer(session.token)) == 401


async def test_logout_all_refuses_when_a_backend_cannot_end_its_tokens(revocable_and_plain: Harness) -> None:
    """With a plain JWT backend in the app, logout-all answers 400 LOGOUT_ALL_NOT_SUPPORTED and ends nothing."""
    harness = revocable_and_plain
    await harness.register("bors@camelot.bt")
    cookie = await harness.login("cookie", "bors@camelot.bt")
    bearer = await harness.login("bearer", "bors@camelot.bt")

    response = await harness.client.post("/auth/cookie/logout-all", headers=cookie.headers())

    assert response.status_code == 400
    assert response.json() == {"detail": "LOGOUT_ALL_NOT_SUPPORTED"}
    assert [await harness.me_status(cookie), await harness.me_status(bearer)] == [200, 200]


@pytest.fixture
async def quickstart(http_db: SessionMaker) -> AsyncIterator[Harness]:
    """The quickstart's plain JWT, Bearer and cookie."""
    async for harness in harness_for(http_db, "jwt", None):
        yield harness


async def test_logout_all_with_plain_jwt_is_an_honest_error(quickstart: Harness) -> None:
    """The quickstart's plain JWT: logout-all says it cannot end the tokens (400), and OpenAPI says so too."""
    await quickstart.register("dagonet@camelot.bt")
    session = await quickstart.login("bearer", "dagonet@camelot.bt")

    response = await quickstart.client.post("/auth/bearer/logout-all", headers=session.headers())
    schema = (await quickstart.client.get("/openapi.json")).json()

    assert response.status_code == 400
    assert response.json() == {"detail": "LOGOUT_ALL_NOT_SUPPORTED"}
    assert await quickstart.me_status(session) == 200
    examples = schema["paths"]["/auth/bearer/logout-all"]["post"]["responses"]["400"]["content"]["application/json"]
    assert "LOGOUT_ALL_NOT_SUPPORTED" in examples["examples"]


@pytest.mark.parametrize("kind", ["jwt", "database"])
async def test_plain_jwt_logout_all_works_with_refresh_sessions(
    kind: Kind, http_db: SessionMaker, redis_client: redis.asyncio.Redis
) -> None:
    """With refresh on every backend, logout-all ends session-bound tokens even of a plain JWT strategy."""
    clock = Clock()
    settings = RefreshSettings(store=make_store("sql", http_db, None), secret=SECRET, clock=clock)
    plain = backends_factory(kind, redis_client)

    def build(get_session: SessionDependency) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
        return {
            name: AuthenticationBackend(name, backend.transport, backend.get_strategy, refresh=settings)
            for name, backend in plain(get_session).items()
        }

    test_app = make_app(http_db, backends_factory=build)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=test_app.app), base_url="http://test") as client:
        harness = RefreshHarness(test_app, client, settings.store, clock)
        await harness.register("ector@camelot.bt")
        first = await harness.login_pair("bearer", "ector@camelot.bt")
        second = await harness.login_pair("cookie", "ector@camelot.bt")

        response = await client.post("/auth/bearer/logout-all", headers=first.session().headers())

        assert response.status_code == 204
        assert [await harness.me_status(first.session()), await harness.me_status(second.session())] == [401, 401]


async def test_tokens_from_app_code_keep_fastapi_users_behaviour(quickstart: Harness) -> None:
    """``strategy.write_token(user)`` names no backend: every backend accepts it; ``backend.login()`` names its own."""
    harness = quickstart
    user_id = await harness.register("lionel@camelot.bt")
    async with harness.test_app.session_maker() as session:
        user = await session.get(User, uuid.UUID(user_id))
    assert user is not None
    strategy: JWTStrategy[User, uuid.UUID] = JWTStrategy(SECRET, 3600)
    bearer = harness.test_app.backends["bearer"]

    app_token = await strategy.write_token(user)
    login_response = await bearer.login(strategy, user)
    login_token = json.loads(bytes(login_response.body))["access_token"]

    assert await harness.me_status(_as_bearer(app_token)) == 200
    assert await harness.me_status(Session("cookie", app_token)) == 200
    assert await harness.me_status(_as_bearer(login_token)) == 200
    assert await harness.me_status(Session("cookie", login_token)) == 401


async def test_token_naming_a_session_needs_a_backend_with_sessions(quickstart: Harness) -> None:
    """A token that names a session is refused by a backend without refresh, which cannot check that session."""
    harness = quickstart
    user_id = await harness.register("bedivere@camelot.bt")
    async with harness.test_app.session_maker() as session:
        user = await session.get(User, uuid.UUID(user_id))
    assert user is not None

    token = await JWTStrategy[User, uuid.UUID](SECRET, 3600).write_token(user, session_id=str(uuid.uuid4()))

    assert await harness.me_status(_as_bearer(token)) == 401
    assert await harness.me_status(Session("cookie", token)) == 401
