"""Fixtures of the pages' HTTP tests."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.conftest import EngineFactory, SessionMaker, reset_schema
from tests.models import Base, IntBase


@pytest.fixture
async def sqlite_db(engine_for: EngineFactory) -> SessionMaker:
    """Sessions on a fresh SQLite schema of the UUID test app (the fast error-path tests)."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, Base.metadata)
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
async def sqlite_int_db(engine_for: EngineFactory) -> SessionMaker:
    """Sessions on a fresh SQLite schema of the integer-id test app."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, IntBase.metadata)
    return async_sessionmaker(engine, expire_on_commit=False)
