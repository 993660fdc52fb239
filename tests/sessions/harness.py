"""Apps with refresh on: Bearer and cookie backends over one strategy kind, sessions in SQL or Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import redis.asyncio
from sqlalchemy import select

from fastapi_userkit.authentication import AuthenticationBackend
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.sessions import RedisSessionStore, RefreshSettings, SessionStore
from tests.app_factory import SECRET, SessionDependency, TestApp, make_app
from tests.conftest import REDIS_PREFIX, SessionMaker
from tests.models import RefreshToken, User, UserSession
from tests.strategies.apps import COOKIE_NAME, Harness, Kind, Session, Transport, backends_factory

StoreKind = Literal["sql", "redis"]
REFRESH_COOKIE = "fastapiusersrefresh"
IDLE = 600
ABSOLUTE = 3 * 3600


@dataclass
class Clock:
    """A settable clock for the session rules."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


@dataclass
class Pair:
    """An access token and a refresh token of one session."""

    transport: Transport
    access: str
    refresh: str

    def session(self) -> Session:
        """The access token as a client session."""
        return Session(self.transport, self.access)


def make_store(kind: StoreKind, session_maker: SessionMaker, redis_client: redis.asyncio.Redis | None) -> SessionStore:
    """A session store of ``kind``."""
    if kind == "sql":
        return SQLAlchemySessionStore(session_maker, UserSession, RefreshToken)
    assert redis_client is not None
    return RedisSessionStore(redis_client, key_prefix=f"{REDIS_PREFIX}sessions:")


def refresh_app(
    session_maker: SessionMaker,
    store: SessionStore,
    *,
    kind: Kind = "jwt",
    redis_client: redis.asyncio.Redis | None = None,
    clock: Clock | None = None,
    grace: float = 0.0,
) -> TestApp:
    """The documented app whose Bearer and cookie backends have refresh on, with the sessions router."""
    settings = RefreshSettings(
        store=store,
        secret=SECRET,
        idle_timeout_seconds=IDLE,
        absolute_lifetime_seconds=ABSOLUTE,
        reuse_grace_seconds=grace,
        clock=clock or Clock(),
    )
    plain = backends_factory(kind, redis_client)

    def build(get_session: SessionDependency) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
        return {
            name: AuthenticationBackend(name, backend.transport, backend.get_strategy, refresh=settings)
            for name, backend in plain(get_session).items()
        }

    test_app = make_app(session_maker, backends_factory=build)
    test_app.app.include_router(test_app.fastapi_users.get_sessions_router())
    return test_app


@dataclass
class RefreshHarness(Harness):
    """A :class:`Harness` that also handles refresh tokens."""

    store: SessionStore
    clock: Clock

    async def login_pair(self, transport: Transport, email: str, password: str = "a long passphrase") -> Pair:
        """Log in and return both tokens (the client keeps no cookie)."""
        response = await self.client.post(f"/auth/{transport}/login", data={"username": email, "password": password})
        assert response.status_code in {200, 204}, response.text
        return self.pair_from(transport, response)

    def pair_from(self, transport: Transport, response: httpx.Response) -> Pair:
        """The tokens a login or refresh response hands out."""
        self.client.cookies.clear()
        if transport == "bearer":
            body: dict[str, Any] = response.json()
            return Pair(transport, body["access_token"], body["refresh_token"])
        return Pair(transport, response.cookies[COOKIE_NAME], response.cookies[REFRESH_COOKIE])

    async def refresh(self, transport: Transport, refresh_token: str) -> httpx.Response:
        """``POST /auth/{transport}/refresh`` with ``refresh_token``."""
        if transport == "bearer":
            return await self.client.post("/auth/bearer/refresh", json={"refresh_token": refresh_token})
        headers = {"Cookie": f"{REFRESH_COOKIE}={refresh_token}"}
        return await self.client.post("/auth/cookie/refresh", headers=headers)

    async def rotate(self, pair: Pair) -> Pair:
        """Refresh successfully and return the new pair."""
        response = await self.refresh(pair.transport, pair.refresh)
        assert response.status_code in {200, 204}, response.text
        return self.pair_from(pair.transport, response)

    async def user_by_email(self, email: str) -> User:
        """The user row with this e-mail address."""
        async with self.test_app.session_maker() as session:
            result = await session.execute(select(User).filter_by(email=email))
            user: User = result.unique().scalar_one()
        return user

    async def refresh_status(self, pair: Pair) -> int:
        """The status of a refresh with ``pair``'s refresh token."""
        response = await self.refresh(pair.transport, pair.refresh)
        self.client.cookies.clear()
        return response.status_code


async def refresh_harness(test_app: TestApp, store: SessionStore, clock: Clock) -> AsyncIterator[RefreshHarness]:
    """Yield a harness over ``test_app``."""
    transport = httpx.ASGITransport(app=test_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield RefreshHarness(test_app, client, store, clock)
