"""A client of the scale tests' workers: spreads requests round-robin, from one client address."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fastapi_userkit.db import SQLAlchemyUserDatabase
from tests.app_factory import HookLog, fast_password_helper, make_user_manager_class
from tests.models import OAuthAccount, User
from tests.scale.processes import Workers, client_address

PASSWORD = "a long passphrase"


@dataclass
class Tokens:
    """What a bearer login hands out."""

    access: str
    refresh: str | None

    def headers(self) -> dict[str, str]:
        """The Authorization header of the access token."""
        return {"Authorization": f"Bearer {self.access}"}


@dataclass
class SpreadClient:
    """Sends request ``n`` to worker ``n % 3``, all from one client address of its own."""

    workers: Workers
    http: httpx.AsyncClient
    address: dict[str, str] = field(default_factory=client_address)
    count: int = 0

    def _next(self, worker: int | None) -> str:
        if worker is None:
            worker = self.count
            self.count += 1
        return self.workers.url(worker)

    async def request(
        self, method: str, path: str, *, worker: int | None = None, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """One request to the next worker (or to ``worker``)."""
        return await self.http.request(
            method, f"{self._next(worker)}{path}", headers={**self.address, **(headers or {})}, **kw
        )

    async def register(self, email: str) -> str:
        """Register ``email`` and return the user id."""
        response = await self.request("POST", "/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def login(self, email: str, backend: str = "bearer", password: str = PASSWORD) -> Tokens:
        """Log in through ``backend`` and return its tokens."""
        response = await self.request("POST", f"/auth/{backend}/login", data={"username": email, "password": password})
        assert response.status_code == 200, response.text
        body = response.json()
        return Tokens(body["access_token"], body.get("refresh_token"))

    async def me_everywhere(self, tokens: Tokens) -> list[int]:
        """The status of ``GET /users/me`` on each worker."""
        return [
            (await self.request("GET", "/users/me", worker=index, headers=tokens.headers())).status_code
            for index in range(len(self.workers.urls))
        ]

    async def refresh_everywhere(self, tokens: Tokens) -> list[int]:
        """The status of a refresh with ``tokens``' refresh token on each worker (nothing rotates
        unless one succeeds)."""
        return [
            (
                await self.request("POST", "/auth/bearer/refresh", worker=index, json={"refresh_token": tokens.refresh})
            ).status_code
            for index in range(len(self.workers.urls))
        ]


def http_client() -> httpx.AsyncClient:
    """An HTTP client with bounded timeouts and enough connections for the concurrent tests."""
    return httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50))


async def make_superuser(engine: AsyncEngine, user_id: str) -> None:
    """Turn the user ``user_id`` into a superuser, directly in the database."""
    async with AsyncSession(engine) as session:
        await session.execute(update(User).filter_by(id=uuid.UUID(user_id)).values(is_superuser=True))
        await session.commit()


async def mailed_token(engine: AsyncEngine, email: str, flow: str) -> str:
    """The token a worker would e-mail for ``flow`` (``forgot_password`` or ``request_verify``).

    Made by the same manager code and secret as the workers', in this process, so the test can
    read it from the hook log.
    """
    log = HookLog()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = SQLAlchemyUserDatabase(session, User, OAuthAccount)
        manager = make_user_manager_class(log)(user_db, fast_password_helper())
        user = await manager.get_by_email(email)
        if flow == "forgot_password":
            await manager.forgot_password(user)
        else:
            await manager.request_verify(user)
    token: str = log.last(f"on_after_{flow}")["token"]
    return token
