"""Fixtures of the authentication unit tests: a user manager over a real SQLite database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from fastapi_userkit import BaseUserManager
from fastapi_userkit.db import SQLAlchemyUserDatabase
from tests.app_factory import HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import EngineFactory, SessionMaker, reset_schema
from tests.models import Base, OAuthAccount, User


@pytest.fixture
async def sqlite_db(engine_for: EngineFactory) -> SessionMaker:
    """Sessions on a fresh SQLite schema of the UUID test app (unit tests need no second database)."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, Base.metadata)
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
async def user_manager(sqlite_db: SessionMaker) -> AsyncIterator[BaseUserManager[User, uuid.UUID]]:
    """A user manager on its own session."""
    async with sqlite_db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        yield make_user_manager_class(HookLog())(user_db, fast_password_helper())


async def add_user(sqlite_db: SessionMaker, email: str = "user@example.com", **flags: bool) -> User:
    """Insert a user with the password ``"password"``."""
    async with sqlite_db() as session:
        user = User(email=email, hashed_password=fast_password_helper().hash("password"), **flags)
        session.add(user)
        await session.commit()
        await session.refresh(user)
        return user
