"""Helpers for the security tests: the security-event table and short HTTP steps."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import DeclarativeBase

from fastapi_userkit.db.security_events import SQLAlchemyBaseSecurityEventTableUUID
from fastapi_userkit.security import SecuritySettings
from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker


class EventBase(DeclarativeBase):
    """Metadata of the security-event table (no foreign key, so it stands alone)."""


class SecurityEventRow(SQLAlchemyBaseSecurityEventTableUUID, EventBase):
    """The app's security-event table, declared with the documented mixin."""


def app_for(session_maker: SessionMaker, **kwargs: Any) -> TestApp:
    """The documented test app without rate limiting (its tests are elsewhere), unless ``security`` is given.

    These tests send many requests from one address on purpose (timing samples, fuzzing); the
    limiter would rightly answer 429 to them.
    """
    kwargs.setdefault("security", SecuritySettings(rate_limit=None))
    return make_app(session_maker, **kwargs)


async def create_event_table(session_maker: SessionMaker) -> None:
    """Create a fresh security-event table next to the user tables of ``session_maker``.

    Not through ``reset_schema``, which rebuilds the user tables of the test apps as well.
    """
    engine: Any = session_maker.kw["bind"]
    async with engine.begin() as connection:
        await connection.run_sync(EventBase.metadata.drop_all)
        await connection.run_sync(EventBase.metadata.create_all)


async def drop_event_table(session_maker: SessionMaker) -> None:
    """Drop the security-event table (PostgreSQL keeps one database for the whole run)."""
    engine: Any = session_maker.kw["bind"]
    async with engine.begin() as connection:
        await connection.run_sync(EventBase.metadata.drop_all)


@contextlib.asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process HTTP client for ``app``."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def register(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """``POST /auth/register``."""
    return await client.post("/auth/register", json={"email": email, "password": password})


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """``POST /auth/jwt/login``."""
    return await client.post("/auth/jwt/login", data={"username": email, "password": password})


async def bearer(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    """Log in and return the ``Authorization`` header of the bearer token."""
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
