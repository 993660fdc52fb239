"""The SQL counters follow the app's schema (issue 16, item 5): their table is in the user table's metadata."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fastapi_userkit.db import SQLAlchemyBaseUserTable
from fastapi_userkit.security.ratelimit import DEFAULT_TABLE_NAME, rate_limit_table
from tests.app_factory import make_app
from tests.conftest import EngineFactory, reset_schema
from tests.security.test_ratelimit_http import PASSWORD, client_for


def test_user_mixin_declares_the_counter_table_in_its_metadata() -> None:
    """A user model built on the mixin brings the counter table into its own ``MetaData``, once."""

    class Base(DeclarativeBase):
        pass

    class User(SQLAlchemyBaseUserTable[int], Base):
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    assert DEFAULT_TABLE_NAME in Base.metadata.tables
    assert Base.metadata.tables[DEFAULT_TABLE_NAME].c.keys() == ["key", "count", "reset_at", "blocked_until"]


def test_an_app_that_declared_the_table_keeps_its_own() -> None:
    """An app that already called ``rate_limit_table`` on its metadata keeps that table object."""
    metadata = MetaData()
    declared = rate_limit_table(metadata)

    class Base(DeclarativeBase):
        pass

    Base.metadata = metadata

    class User(SQLAlchemyBaseUserTable[int], Base):
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    assert metadata.tables[DEFAULT_TABLE_NAME] is declared


def test_declaring_the_table_again_after_the_user_model_returns_the_same_table() -> None:
    """An app that still calls ``rate_limit_table(Base.metadata)`` after its user model gets the mixin's table."""

    class Base(DeclarativeBase):
        pass

    class User(SQLAlchemyBaseUserTable[int], Base):
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    assert rate_limit_table(Base.metadata) is Base.metadata.tables[DEFAULT_TABLE_NAME]


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mariadb"])
async def test_a_suite_that_recreates_its_tables_per_test_is_never_limited(
    database: str, engine_for: EngineFactory
) -> None:
    """Ten "tests" on one database, each dropping and creating the tables, three forgot-password calls each: no 429.

    The FastAPI Users pattern: one app and one database for the run, ``Base.metadata.drop_all``
    and ``create_all`` around every test, the same address in every test. The default limit is
    5 forgot-password requests per address per minute.
    """
    from tests.models import Base

    engine = await engine_for(database)
    await reset_schema(engine, Base.metadata)  # another test app's tables may point at "user"
    app = make_app(async_sessionmaker(engine, expire_on_commit=False))
    statuses: list[int] = []

    for _ in range(10):
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        async with client_for(app) as client:
            registered = await client.post("/auth/register", json={"email": "king@example.com", "password": PASSWORD})
            assert registered.status_code == 201, registered.text
            for _ in range(3):
                response = await client.post("/auth/forgot-password", json={"email": "king@example.com"})
                statuses.append(response.status_code)

    assert statuses == [202] * 30
