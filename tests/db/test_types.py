"""The GUID and TIMESTAMPAware column types on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from fastapi_userkit.db import GUID, SQLAlchemyUserDatabase, TIMESTAMPAware, now_utc
from tests.conftest import EngineFactory, reset_schema
from tests.models import User

metadata = MetaData()
samples = Table(
    "userkit_type_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("guid", GUID, nullable=True),
    Column("at", TIMESTAMPAware(timezone=True), nullable=True),
)


@pytest.fixture
async def connection(any_backend: str, engine_for: EngineFactory) -> AsyncIterator[AsyncConnection]:
    """A connection to a fresh ``userkit_type_samples`` table on every database."""
    engine = await engine_for(any_backend)
    await reset_schema(engine, metadata)
    async with engine.connect() as conn:
        yield conn


@pytest.fixture
def server_local_time_is_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with a process time zone 5:30 ahead of UTC (drivers read naive values as local time)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
    assert os.environ.get("TZ") != "Asia/Kolkata"


async def store_and_read(connection: AsyncConnection, **values: object) -> tuple[object, ...]:
    """Insert one row and read its guid and at back."""
    await connection.execute(insert(samples), [{"id": 1, **values}])
    result = await connection.execute(select(samples.c.guid, samples.c.at).where(samples.c.id == 1))
    return tuple(result.one())


async def test_guid_round_trips_a_uuid(connection: AsyncConnection) -> None:
    """A uuid.UUID comes back as an equal uuid.UUID."""
    value = uuid.uuid4()

    guid, _ = await store_and_read(connection, guid=value)

    assert guid == value
    assert isinstance(guid, uuid.UUID)


async def test_guid_accepts_the_string_form(connection: AsyncConnection) -> None:
    """A UUID given as a string (any accepted spelling) is stored canonically and read back as uuid.UUID."""
    value = uuid.uuid4()

    guid, _ = await store_and_read(connection, guid=value.hex.upper())
    found = await connection.execute(select(samples.c.id).where(samples.c.guid == str(value)))

    assert guid == value
    assert found.scalar_one() == 1


async def test_null_values_round_trip(connection: AsyncConnection) -> None:
    """NULL stays None for both types."""
    stored = await store_and_read(connection, guid=None, at=None)

    assert stored == (None, None)


async def test_user_ids_given_as_strings_work_through_the_adapter(any_backend: str, engine_for: EngineFactory) -> None:
    """An id created or looked up in string form is the same uuid.UUID user."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from tests.models import Base

    engine = await engine_for(any_backend)
    await reset_schema(engine, Base.metadata)
    user_id = uuid.uuid4()
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User)
        user = await user_db.create({"id": str(user_id), "email": "kay@camelot.bt", "hashed_password": "h"})

    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        found = await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).get(str(user_id))  # type: ignore[arg-type]  # the str form on purpose

    assert user.id == user_id
    assert found is not None
    assert found.id == user_id


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 5, 17, 8, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 5, 17, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(2044, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-7))),
    ],
)
async def test_timestamp_round_trips_to_the_same_instant_in_utc(connection: AsyncConnection, value: datetime) -> None:
    """An aware datetime in any zone comes back as the same instant, aware, in UTC, to the microsecond."""
    _, at = await store_and_read(connection, at=value)

    assert isinstance(at, datetime)
    assert at == value
    assert at.utcoffset() == timedelta(0)
    assert at.microsecond == value.microsecond


async def test_naive_timestamp_is_taken_as_utc(connection: AsyncConnection, server_local_time_is_not_utc: None) -> None:
    """A naive datetime means UTC on every database, whatever the process's local time zone."""
    naive = datetime(2026, 5, 17, 8, 30)  # noqa: DTZ001 - a naive value is the input under test

    _, at = await store_and_read(connection, at=naive)

    assert at == naive.replace(tzinfo=UTC)


async def test_timestamp_comparisons_use_the_instant(connection: AsyncConnection) -> None:
    """Filtering with an aware bound in another zone compares instants, not wall-clock times."""
    stored = datetime(2026, 5, 17, 12, 0, tzinfo=UTC)
    await connection.execute(insert(samples), [{"id": 1, "at": stored}])
    plus_two = timezone(timedelta(hours=2))

    before = await connection.execute(
        select(samples.c.id).where(samples.c.at >= datetime(2026, 5, 17, 13, 59, tzinfo=plus_two))
    )
    after = await connection.execute(
        select(samples.c.id).where(samples.c.at >= datetime(2026, 5, 17, 14, 1, tzinfo=plus_two))
    )

    assert before.all() == [(1,)]
    assert after.all() == []


def test_now_utc_is_aware_utc() -> None:
    """now_utc() is timezone-aware, in UTC, and current."""
    value = now_utc()

    assert value.tzinfo is UTC
    assert abs(value - datetime.now(UTC)) < timedelta(seconds=5)


def test_guid_python_type_is_uuid() -> None:
    """GUID reports uuid.UUID as its Python type (used by schema generators)."""
    assert GUID().python_type is uuid.UUID
