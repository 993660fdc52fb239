"""Test apps whose two backends (Bearer and cookie) share one strategy of a given kind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import httpx
import redis.asyncio
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    DatabaseStrategy,
    JWTStrategy,
    RedisStrategy,
    Strategy,
)
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.db.revoked_token import SQLAlchemyRevokedTokenDatabase
from tests.app_factory import SECRET, BackendsFactory, SessionDependency, TestApp, make_app
from tests.conftest import REDIS_PREFIX, SessionMaker
from tests.models import AccessToken, RevokedToken, User

Kind = Literal["jwt", "jwt-table", "database", "redis"]
Transport = Literal["bearer", "cookie"]
COOKIE_NAME = "fastapiusersauth"
LIFETIME = 3600


def backends_factory(
    kind: Kind, redis_client: redis.asyncio.Redis | None, redis_prefix: str = REDIS_PREFIX
) -> BackendsFactory:
    """Bearer and cookie backends over one strategy of ``kind``."""

    def build(get_session: SessionDependency) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
        async def get_strategy(
            session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
        ) -> Strategy[User, uuid.UUID]:
            if kind == "jwt":
                return JWTStrategy(SECRET, LIFETIME)
            if kind == "jwt-table":
                return JWTStrategy(
                    SECRET, LIFETIME, revoked_tokens=SQLAlchemyRevokedTokenDatabase(session, RevokedToken)
                )
            if kind == "database":
                return DatabaseStrategy(SQLAlchemyAccessTokenDatabase(session, AccessToken), LIFETIME)
            assert redis_client is not None
            return RedisStrategy(redis_client, LIFETIME, key_prefix=f"{redis_prefix}token:")

        return {
            "bearer": AuthenticationBackend("bearer", BearerTransport("auth/bearer/login"), get_strategy),
            "cookie": AuthenticationBackend("cookie", CookieTransport(cookie_secure=False), get_strategy),
        }

    return build


@dataclass
class Session:
    """One logged-in client session."""

    transport: Transport
    token: str

    def headers(self) -> dict[str, str]:
        """The request headers that carry this session's token."""
        if self.transport == "bearer":
            return {"Authorization": f"Bearer {self.token}"}
        return {"Cookie": f"{COOKIE_NAME}={self.token}"}


@dataclass
class Harness:
    """An app, a client and helpers to log in and check sessions."""

    test_app: TestApp
    client: httpx.AsyncClient

    async def register(self, email: str, password: str = "a long passphrase") -> str:
        """Register a user and return its id."""
        response = await self.client.post("/auth/register", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def login(self, transport: Transport, email: str, password: str = "a long passphrase") -> Session:
        """Log in through ``transport`` and return the session (the client keeps no cookie)."""
        response = await self.client.post(f"/auth/{transport}/login", data={"username": email, "password": password})
        assert response.status_code in {200, 204}, response.text
        token = response.json()["access_token"] if transport == "bearer" else response.cookies[COOKIE_NAME]
        self.client.cookies.clear()
        return Session(transport, token)

    async def me_status(self, session: Session) -> int:
        """The status of ``GET /users/me`` with ``session``."""
        return (await self.client.get("/users/me", headers=session.headers())).status_code

    async def make_superuser(self, email: str) -> Session:
        """Register a superuser and log it in with a bearer token."""
        user_id = await self.register(email)
        async with self.test_app.session_maker() as session:
            user = await session.get(User, uuid.UUID(user_id))
            assert user is not None
            user.is_superuser = True
            await session.commit()
        return await self.login("bearer", email)


async def harness_for(
    session_maker: SessionMaker, kind: Kind, redis_client: redis.asyncio.Redis | None
) -> AsyncIterator[Harness]:
    """Yield a harness over the documented app with ``kind`` tokens."""
    test_app = make_app(session_maker, backends_factory=backends_factory(kind, redis_client))
    transport = httpx.ASGITransport(app=test_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Harness(test_app, client)
