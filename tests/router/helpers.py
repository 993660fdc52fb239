"""Helpers shared by the HTTP contract tests: a client, users made directly in the database, logins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.app_factory import TestApp, fast_password_helper
from tests.models import User

PASSWORD = "correct horse battery staple"
"""The password of every user :func:`create_user` makes unless told otherwise."""


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def create_user(
    test_app: TestApp,
    email: str = "user@example.com",
    password: str = PASSWORD,
    *,
    is_active: bool = True,
    is_superuser: bool = False,
    is_verified: bool = False,
) -> User:
    """Insert a user straight into the database (no hooks run)."""
    async with test_app.session_maker() as session:
        user = User(
            email=email,
            hashed_password=fast_password_helper().hash(password),
            is_active=is_active,
            is_superuser=is_superuser,
            is_verified=is_verified,
        )
        session.add(user)
        await session.commit()
        await session.refresh(user)
        return user


async def fetch_user(test_app: TestApp, email: str) -> User | None:
    """Read a user back from the database (case-insensitively by e-mail), bypassing the app."""
    async with test_app.session_maker() as session:
        statement = select(User).where(func.lower(User.email) == email.lower())
        return (await session.execute(statement)).unique().scalar_one_or_none()


async def count_users(test_app: TestApp) -> int:
    """How many rows the user table holds."""
    async with test_app.session_maker() as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def login(client: httpx.AsyncClient, email: str = "user@example.com", password: str = PASSWORD) -> str:
    """Log in through the Bearer backend and return the access token."""
    response = await client.post("/auth/jwt/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """Split a ``Set-Cookie`` header into name, value and attributes (lower-cased names)."""
    first, *attributes = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    parsed: dict[str, str] = {}
    for attribute in attributes:
        key, _, attribute_value = attribute.partition("=")
        parsed[key.lower()] = attribute_value
    return name, value.strip('"'), parsed
