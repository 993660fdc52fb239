"""The fast paths' private attributes are pinned, and with the switch off the same rows come through public APIs."""

from __future__ import annotations

import inspect
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy
from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction
from sqlalchemy.pool import NullPool, QueuePool
from sqlalchemy.util import await_only, greenlet_spawn

from fastapi_userkit import _fast_paths
from fastapi_userkit._fast_paths import (
    WOULD_WAIT,
    holds_connection,
    pool_hands_over_without_waiting,
    pool_keeping_no_idle_connection,
    read_on_the_loop,
)
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db._row_reader import NOT_READ, read_by_primary_key
from tests.conftest import EngineFactory, SessionMaker
from tests.db.test_row_reader import _pooled, _seed, _seeded_sessions
from tests.models import AccessToken, User

# The versions this pin was written against; an upgrade that breaks a pin below fails here first.
_SQLALCHEMY = tuple(int(part) for part in sqlalchemy.__version__.split(".")[:2])


async def test_pinned_sqlalchemy_attributes(engine_for: EngineFactory, tmp_path: Path) -> None:
    """SQLAlchemy still has what the fast paths use: the transaction's connections, ``_close_special``, ``await_only``.

    ``SessionTransaction._connections`` is the dict the public ``connections`` (2.1.7+) reads;
    ``_close_special(transaction_reset=...)`` is the pool's check-in that skips the reset's rollback.
    """
    engine = await engine_for("sqlite")
    sync_engine: Engine = engine.sync_engine

    def connections() -> None:
        with Session(sync_engine) as session:
            session.execute(text("SELECT 1"))
            transaction = session.get_transaction()
            assert transaction is not None
            held = transaction._connections  # bind or connection -> (connection, transaction, ...)
            assert isinstance(held, dict)
            assert held
            assert all(isinstance(entry[0], Connection) for entry in held.values())
            if _SQLALCHEMY >= (2, 1):
                assert isinstance(inspect.getattr_static(SessionTransaction, "connections"), property)
                assert len(transaction.connections) == 1

    await greenlet_spawn(connections)
    raw = await greenlet_spawn(sync_engine.raw_connection)
    try:
        close_special = raw._close_special  # _ConnectionFairy's private check-in
        assert callable(close_special)
        assert list(inspect.signature(close_special).parameters) == ["transaction_reset"]
        assert isinstance(raw.driver_connection, aiosqlite.Connection)
    finally:
        await greenlet_spawn(raw.close)
    assert callable(await_only)
    assert callable(greenlet_spawn)


async def test_pinned_aiosqlite_attributes(tmp_path: Path) -> None:
    """aiosqlite wraps a ``sqlite3.Connection`` in ``_conn`` (ValueError before connecting); has ``in_transaction``."""
    connection = aiosqlite.connect(tmp_path / "pin.db")
    with pytest.raises(ValueError, match="no active connection"):
        _ = connection._conn
    async with connection:
        assert isinstance(connection._conn, sqlite3.Connection)
        states = [connection.in_transaction]
        await connection.execute("CREATE TABLE t (x INTEGER)")
        await connection.execute("INSERT INTO t VALUES (1)")
        states.append(connection.in_transaction)
        await connection.rollback()
    assert states == [False, True]


async def test_unconnected_aiosqlite_reads_off_the_loop(tmp_path: Path, fast_paths_on: None) -> None:
    """An aiosqlite connection that has not connected has no ``sqlite3`` connection: the read goes to its thread."""
    connection = aiosqlite.connect(tmp_path / "pin.db")
    assert read_on_the_loop(connection, "SELECT 1", None) is WOULD_WAIT
    connection.stop()


async def _read_and_watch(engine_for: EngineFactory) -> tuple[Any, list[int], list[bool], Any]:
    """Read the seeded token on a pooled SQLite engine.

    Returns ``(row, threads the SELECT ran on, each reset's transaction_was_reset, the ORM's row)``.
    """
    db = await _seeded_sessions(engine_for)
    engine, pooled = await _pooled(db, pool_size=1)
    threads: list[int] = []
    resets: list[bool] = []
    event.listen(engine.sync_engine.pool, "reset", lambda _d, _r, state: resets.append(state.transaction_was_reset))

    def watch(dbapi_connection: Any, _record: Any) -> None:
        # ``set_trace_callback`` runs in the thread that executes the statement.
        database = dbapi_connection.driver_connection._conn
        database.set_trace_callback(lambda sql: threads.append(threading.get_ident()) if "accesstoken" in sql else None)

    event.listen(engine.sync_engine, "connect", watch)
    try:
        async with pooled() as session:
            found = await read_by_primary_key(session, AccessToken, "t" * 43)
    finally:
        await engine.dispose()
    async with db() as session:
        orm = (await session.execute(select(AccessToken))).scalar_one()
    return found, threads, resets, orm


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
async def test_switch_chooses_the_path_and_not_the_result(engine_for: EngineFactory, enabled: bool) -> None:
    """Switch on, the SQLite read runs on the loop's thread and skips the reset; off, neither; same row."""
    before = _fast_paths.fast_paths_enabled()
    _fast_paths.set_fast_paths(enabled)
    try:
        found, threads, resets, orm = await _read_and_watch(engine_for)
    finally:
        _fast_paths.set_fast_paths(before)
    assert found is not NOT_READ
    assert (found.token, found.user_id, found.created_at) == (orm.token, orm.user_id, orm.created_at)
    on_the_loop = [thread == threading.get_ident() for thread in threads]
    assert on_the_loop == [enabled]
    assert resets == [enabled]


async def test_check_in_without_close_special_takes_the_full_reset(
    engine_for: EngineFactory, monkeypatch: pytest.MonkeyPatch, fast_paths_on: None
) -> None:
    """Without ``_ConnectionFairy._close_special`` the check-in is the plain close: same row, the full reset."""
    monkeypatch.setattr(_fast_paths, "_CLOSE_SPECIAL", False)
    found, threads, resets, orm = await _read_and_watch(engine_for)
    assert found.token == orm.token
    assert [thread == threading.get_ident() for thread in threads] == [True]
    assert resets == [False]


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
async def test_holds_connection_before_sqlalchemy_2_1_7(
    engine_for: EngineFactory, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    """Without public ``connections``: switch on, the private dict answers; off, a begun transaction counts as held."""
    engine = await engine_for("sqlite")
    monkeypatch.setattr(_fast_paths, "_PUBLIC_CONNECTIONS", False)
    monkeypatch.setattr(_fast_paths._SWITCH, "enabled", enabled)

    def answers() -> list[bool]:
        with Session(engine.sync_engine) as session:
            session.begin()
            begun = session.get_transaction()
            assert begun is not None
            seen = [holds_connection(begun)]
            session.execute(text("SELECT 1"))
            return [*seen, holds_connection(begun)]

    assert await greenlet_spawn(answers) == [not enabled, True]


async def test_public_connections_agree_with_the_private_dict(engine_for: EngineFactory) -> None:
    """Where SQLAlchemy has the public ``connections``, it gives the answer the private dict gave."""
    engine = await engine_for("sqlite")

    def answers() -> list[tuple[bool, bool]]:
        with Session(engine.sync_engine) as session:
            session.begin()
            transaction = session.get_transaction()
            assert transaction is not None
            seen = [(holds_connection(transaction), _fast_paths._private_holds_connection(transaction))]
            session.execute(text("SELECT 1"))
            return [*seen, (holds_connection(transaction), _fast_paths._private_holds_connection(transaction))]

    assert await greenlet_spawn(answers) == [(False, False), (True, True)]


class _PlainBase(DeclarativeBase):
    pass


class _PlainUser(_PlainBase):
    """The test app's ``user`` table without its OAuth relationship, mapped as the documented app maps its user."""

    __table__ = User.__table__


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
async def test_plain_user_reads_what_the_orm_reads(
    db: SessionMaker, request: pytest.FixtureRequest, enabled: bool
) -> None:
    """A plain user (no relationship) reads the ORM's values through the adapter, switch on or off."""
    request.getfixturevalue("fast_paths_on" if enabled else "fast_paths_off")
    user_id = await _seed(db)
    async with db() as session:
        direct = await read_by_primary_key(session, _PlainUser, user_id)
        dialect = session.get_bind().dialect.name
    async with db() as session:
        user = await SQLAlchemyUserDatabase[Any, uuid.UUID](session, _PlainUser).get(user_id)
    async with db() as session:
        orm = (await session.execute(select(_PlainUser).where(User.__table__.c.id == user_id))).scalar_one()
    assert (direct is NOT_READ) == (dialect == "mysql")
    keys = [column.key for column in User.__table__.columns]
    assert [getattr(user, key) for key in keys] == [getattr(orm, key) for key in keys]


async def test_pinned_pool_attributes(tmp_path: Path) -> None:
    """Pools keep ``_max_overflow`` ``_creator``, ``_reset_on_return``, ``_dialect``; take ``_dispatch``."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=3)
    try:
        pool: Any = engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        assert pool._max_overflow == 3
        assert callable(pool._creator)
        assert pool._reset_on_return is not None
        assert pool._dialect is engine.sync_engine.dialect
        assert "_dispatch" in inspect.signature(NullPool).parameters
    finally:
        await engine.dispose()


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
async def test_pool_room_with_the_switch(tmp_path: Path, request: pytest.FixtureRequest, enabled: bool) -> None:
    """On, room under ``max_overflow`` counts; off, only an idle connection does; a ``NullPool`` never has room."""
    request.getfixturevalue("fast_paths_on" if enabled else "fast_paths_off")
    url = f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}"
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    unpooled = create_async_engine(url, poolclass=NullPool)
    try:
        pool = engine.sync_engine.pool
        answers = [pool_hands_over_without_waiting(pool)]  # nothing opened yet
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            answers.append(pool_hands_over_without_waiting(pool))  # the only connection is out
        answers.append(pool_hands_over_without_waiting(pool))  # and back, idle
        assert pool_hands_over_without_waiting(unpooled.sync_engine.pool) is False
    finally:
        await engine.dispose()
        await unpooled.dispose()
    assert answers == [enabled, False, True]  # room to open one counts only with the switch on


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
async def test_pool_keeping_no_idle_connection(tmp_path: Path, request: pytest.FixtureRequest, enabled: bool) -> None:
    """On, a ``NullPool`` that connects through the app's pool events; off, the public ``recreate()``; both connect."""
    request.getfixturevalue("fast_paths_on" if enabled else "fast_paths_off")
    app = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=2)
    connects: list[object] = []
    event.listen(app.sync_engine, "connect", lambda *args: connects.append(args))
    pool = pool_keeping_no_idle_connection(app.sync_engine.pool)
    other = AsyncEngine(Engine(pool, app.sync_engine.dialect, app.sync_engine.url))
    try:
        async with other.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        if enabled:
            assert type(pool) is NullPool
        else:  # the app's kind of pool, which keeps the connection
            assert type(pool) is type(app.sync_engine.pool)
            assert isinstance(pool, QueuePool)
            assert pool.checkedin() == 1
        assert len(connects) == 1
    finally:
        await other.dispose()
        await app.dispose()
