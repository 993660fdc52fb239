"""The driver-level read by primary key gives what the ORM query gives, and steps aside when it must."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import greenlet_spawn

from fastapi_userkit._fast_paths import check_in
from fastapi_userkit.db._row_reader import NOT_READ, read_by_primary_key, read_values_by_primary_key
from tests.conftest import EngineFactory, SessionMaker, reset_schema
from tests.models import AccessToken, Base, User


async def _seed(db: SessionMaker) -> uuid.UUID:
    async with db() as session:
        user = User(email="lancelot@camelot.bt", hashed_password="hash")
        session.add(user)
        await session.commit()
        session.add(AccessToken(token="t" * 43, user_id=user.id))
        await session.commit()
        return user.id


def _assert_seeded_token(found: Any) -> None:
    """``found`` is the seeded token row, read through the driver (not the ORM fallback's marker)."""
    assert found is not NOT_READ
    assert found is not None
    assert found.token == "t" * 43


async def _read_seeded_token(sessions: SessionMaker) -> Any:
    async with sessions() as session:
        return await read_by_primary_key(session, AccessToken, "t" * 43)


async def test_token_row_is_read_as_the_orm_reads_it(db: SessionMaker) -> None:
    """On PostgreSQL and SQLite the row comes through the driver, equal to the ORM's and persistent."""
    user_id = await _seed(db)
    async with db() as session:
        found = await read_by_primary_key(session, AccessToken, "t" * 43)
        backend = session.get_bind().dialect.name
        if backend == "mysql":
            assert found is NOT_READ  # MariaDB takes the ORM path
            return
        assert found is not NOT_READ
        state = inspect(found)
        assert state.persistent
        assert not session.dirty
        assert await session.get(AccessToken, "t" * 43) is found
    async with db() as session:
        orm = (await session.execute(select(AccessToken))).scalar_one()
    assert orm is not None
    assert found is not None
    assert (found.token, found.user_id, found.created_at) == (orm.token, orm.user_id, orm.created_at)
    assert found.user_id == user_id


async def test_missing_row_reads_none(db: SessionMaker) -> None:
    """An unknown key gives None, not the fallback marker, where the driver path applies."""
    await _seed(db)
    async with db() as session:
        found = await read_by_primary_key(session, AccessToken, "u" * 43)
    assert found is None or found is NOT_READ
    assert (found is None) == (session.get_bind().dialect.name != "mysql")


async def test_read_holds_no_connection_and_sees_committed_changes(db: SessionMaker) -> None:
    """No pooled connection stays checked out, and a change committed elsewhere shows on the next read."""
    user_id = await _seed(db)
    pool = db.kw["bind"].sync_engine.pool
    moves: list[str] = []
    event.listen(pool, "checkout", lambda *_: moves.append("out"))
    event.listen(pool, "checkin", lambda *_: moves.append("in"))
    async with db() as session:
        await read_by_primary_key(session, AccessToken, "t" * 43)
        assert moves.count("out") == moves.count("in")
    other = uuid.uuid4()
    async with db() as session:
        session.add(User(id=other, email="gawain@camelot.bt", hashed_password="h"))
        await session.commit()
        await session.execute(update(AccessToken).values(user_id=other))
        await session.commit()
    async with db() as session:
        found = await read_by_primary_key(session, AccessToken, "t" * 43)
        if found is not NOT_READ:
            assert found.user_id == other != user_id


async def test_written_through_the_session(db: SessionMaker) -> None:
    """An instance read this way is updated and deleted through the session like a loaded one."""
    await _seed(db)
    async with db() as session:
        found = await read_by_primary_key(session, AccessToken, "t" * 43)
        if found is NOT_READ:
            return
        await session.delete(found)
        await session.commit()
    async with db() as session:
        assert (await session.execute(select(AccessToken))).first() is None


async def test_steps_aside_in_a_transaction_and_for_listeners(db: SessionMaker) -> None:
    """A session holding a connection, an object already mapped, or execute listeners get the ORM path."""
    await _seed(db)
    async with db() as session:
        await session.execute(text("SELECT 1"))  # the session now holds a connection
        assert await read_by_primary_key(session, AccessToken, "t" * 43) is NOT_READ
    async with db() as session:
        held = await session.get(AccessToken, "t" * 43)
        await session.commit()
        assert held is not None
        assert await read_by_primary_key(session, AccessToken, "t" * 43) is NOT_READ
    seen: list[str] = []
    engine = db.kw["bind"]

    def listener(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with db() as session:
            assert await read_by_primary_key(session, AccessToken, "t" * 43) is NOT_READ
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)


async def test_mapping_with_relationships_takes_the_orm_path(db: SessionMaker) -> None:
    """The test ``User`` eagerly loads its OAuth accounts, which only the ORM query does."""
    user_id = await _seed(db)
    async with db() as session:
        assert await read_by_primary_key(session, User, user_id) is NOT_READ


async def test_session_bound_to_a_connection_takes_the_orm_path(db: SessionMaker) -> None:
    """A session joined to an outer connection reads inside that connection's transaction."""
    await _seed(db)
    engine = db.kw["bind"]
    async with engine.connect() as connection:
        session = AsyncSession(bind=connection)
        assert await read_by_primary_key(session, AccessToken, "t" * 43) is NOT_READ
        await session.close()
    assert isinstance(db, async_sessionmaker)


async def _pooled(db: SessionMaker, pool_size: int) -> tuple[AsyncEngine, SessionMaker]:
    """A second engine on the same database with a small connection pool (the fixtures use NullPool)."""
    engine = create_async_engine(db.kw["bind"].url, pool_size=pool_size, max_overflow=10)
    return engine, async_sessionmaker(engine, expire_on_commit=False)


async def test_concurrent_reads_stay_within_the_pool(db: SessionMaker) -> None:
    """Twenty reads at once use the pool's retained connections only, and each gets its row."""
    user_id = await _seed(db)
    engine, pooled = await _pooled(db, pool_size=2)
    opened: list[int] = []
    in_use = [0]
    peak = [0]

    def checked_out(*_: Any) -> None:
        in_use[0] += 1
        peak[0] = max(peak[0], in_use[0])

    def checked_in(*_: Any) -> None:
        in_use[0] -= 1

    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))
    event.listen(engine.sync_engine.pool, "checkout", checked_out)
    event.listen(engine.sync_engine.pool, "checkin", checked_in)

    async def read() -> Any:
        async with pooled() as session:
            found = await read_by_primary_key(session, AccessToken, "t" * 43)
            return NOT_READ if found is NOT_READ else found.user_id

    try:
        results = await asyncio.gather(*(read() for _ in range(20)))
    finally:
        await engine.dispose()
    if engine.dialect.name == "mysql":
        assert results == [NOT_READ] * 20
        return
    assert results == [user_id] * 20
    # Without the gate, 20 reads in flight open up to 12 connections (2 + 10 overflow).
    assert peak[0] <= 2
    assert len(opened) <= 2
    assert in_use[0] == 0


async def test_connection_goes_back_without_a_transaction(db: SessionMaker, fast_paths_on: None) -> None:
    """The pool is told the transaction is already reset, and the next user finds none open."""
    await _seed(db)
    engine, pooled = await _pooled(db, pool_size=1)
    resets: list[bool] = []

    def on_reset(_dbapi: Any, _record: Any, state: Any) -> None:
        resets.append(state.transaction_was_reset)

    event.listen(engine.sync_engine.pool, "reset", on_reset)
    try:
        async with pooled() as session:
            found = await read_by_primary_key(session, AccessToken, "t" * 43)
        if engine.dialect.name == "mysql":
            assert found is NOT_READ
            return
        assert found is not NOT_READ
        assert len(resets) == 1
        # aiosqlite reports ``in_transaction``: no ROLLBACK is sent. asyncpg's connection does not
        # have that attribute, so the pool's reset runs (a no-op outside a transaction).
        assert resets == [engine.dialect.driver == "aiosqlite"]
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            in_transaction = driver.in_transaction if hasattr(driver, "in_transaction") else driver.is_in_transaction()
            assert in_transaction is False
    finally:
        await engine.dispose()


async def test_connection_left_in_a_transaction_is_rolled_back(engine_for: EngineFactory, fast_paths_on: None) -> None:
    """If aiosqlite says a transaction is open, the check-in takes the pool's full reset.

    SQLite only: ``in_transaction``, which the check-in reads, is aiosqlite's attribute.
    """
    db = async_sessionmaker(await engine_for("sqlite"), expire_on_commit=False)
    await reset_schema(db.kw["bind"], Base.metadata)
    await _seed(db)
    engine, _ = await _pooled(db, pool_size=1)
    resets: list[bool] = []
    event.listen(engine.sync_engine.pool, "reset", lambda _d, _r, state: resets.append(state.transaction_was_reset))
    try:
        connection = await greenlet_spawn(engine.sync_engine.raw_connection)
        driver: Any = connection.driver_connection
        await driver.execute("BEGIN")
        await driver.execute("DELETE FROM accesstoken")
        assert driver.in_transaction is True
        await greenlet_spawn(check_in, connection, driver)
        assert resets == [False]
    finally:
        await engine.dispose()
    async with db() as session:
        assert (await session.execute(select(AccessToken))).scalar_one().token == "t" * 43


async def _seeded_sessions(engine_for: EngineFactory, backend: str = "sqlite") -> SessionMaker:
    """Sessions on a seeded schema of one database, for the tests that are about one driver."""
    db = async_sessionmaker(await engine_for(backend), expire_on_commit=False)
    await reset_schema(db.kw["bind"], Base.metadata)
    await _seed(db)
    return db


async def test_sqlite_read_runs_on_the_loop_thread_and_keeps_the_busy_timeout(
    engine_for: EngineFactory, fast_paths_on: None
) -> None:
    """The SELECT runs on the loop's thread, not aiosqlite's; the request yields once; the busy timeout is put back."""
    db = await _seeded_sessions(engine_for)
    engine, pooled = await _pooled(db, pool_size=1)
    threads: list[int] = []
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            database: Any = raw.driver_connection._conn  # type: ignore[union-attr]  # aiosqlite's sqlite3 connection
            await connection.run_sync(lambda _: None)
        # ``set_trace_callback`` runs in the thread that executes the statement.
        database.set_trace_callback(lambda sql: threads.append(threading.get_ident()) if "accesstoken" in sql else None)
        others: list[str] = []
        async with pooled() as session:
            asyncio.get_running_loop().call_soon(others.append, "ran")
            found = await read_by_primary_key(session, AccessToken, "t" * 43)
            # The request yielded to the loop once, as the hand-off to aiosqlite's thread did.
            assert others == ["ran"]
        _assert_seeded_token(found)
        assert threads == [threading.get_ident()]
        assert database.execute("PRAGMA busy_timeout").fetchone() == (5000,)
    finally:
        await engine.dispose()


async def test_sqlite_read_waits_for_a_lock_off_the_loop(engine_for: EngineFactory, tmp_path: Path) -> None:
    """While another connection commits (rollback-journal mode), the read waits on aiosqlite's thread.

    The loop keeps serving other tasks meanwhile, and the read gives the row once the lock is gone.
    """
    db = await _seeded_sessions(engine_for)
    writer = sqlite3.connect(tmp_path / "test.db", isolation_level=None)
    try:
        assert writer.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        writer.execute("BEGIN EXCLUSIVE")
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, writer.execute, "COMMIT")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        started = loop.time()
        async with db() as session:
            found = await read_by_primary_key(session, AccessToken, "t" * 43)
        waited = loop.time() - started
        ticker.cancel()
    finally:
        writer.close()
    _assert_seeded_token(found)
    assert waited >= 0.25  # it did wait for the commit
    assert ticks >= 10  # and the loop ran the ticker all along


async def test_sqlite_memory_database_reads_through_the_connection_thread() -> None:
    """A ``:memory:`` database refuses other threads: the read is handed to aiosqlite's thread."""
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        db = async_sessionmaker(engine, expire_on_commit=False)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await _seed(db)
        _assert_seeded_token(await _read_seeded_token(db))
    finally:
        await engine.dispose()


async def test_sqlite_read_with_no_busy_timeout_and_a_failing_read(
    engine_for: EngineFactory, tmp_path: Path, fast_paths_on: None
) -> None:
    """``timeout=0`` is kept; a read that fails otherwise (no table) takes the ORM path and keeps its connection."""
    await _seeded_sessions(engine_for)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}", connect_args={"timeout": 0})
    try:
        db = async_sessionmaker(engine, expire_on_commit=False)
        _assert_seeded_token(await _read_seeded_token(db))
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one() == 0
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE accesstoken"))
        invalidated: list[object] = []
        event.listen(engine.sync_engine.pool, "invalidate", lambda *args: invalidated.append(args))
        async with db() as session:
            assert await read_by_primary_key(session, AccessToken, "t" * 43) is NOT_READ
        # The statement failed on the loop's thread with nothing in flight: the connection is kept.
        assert invalidated == []
    finally:
        await engine.dispose()


async def test_failed_driver_read_invalidates_its_connection(engine_for: EngineFactory) -> None:
    """A read the server refuses takes the ORM path, and its connection leaves the pool for good.

    PostgreSQL: the statement fails inside asyncpg's ``fetchrow``, with the connection in an
    unknown state, so it is invalidated rather than handed to the next request.
    """
    db = await _seeded_sessions(engine_for, "postgresql")
    engine, pooled = await _pooled(db, pool_size=1)
    invalidated: list[object] = []
    event.listen(engine.sync_engine.pool, "invalidate", lambda *args: invalidated.append(args))
    try:
        async with db() as session:
            await session.execute(text("ALTER TABLE accesstoken RENAME TO accesstoken_away"))
            await session.commit()
        async with pooled() as session:
            assert await read_by_primary_key(session, AccessToken, "t" * 43) is NOT_READ
        assert len(invalidated) == 1
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool's count
        async with db() as session:
            await session.execute(text("ALTER TABLE accesstoken_away RENAME TO accesstoken"))
            await session.commit()
        _assert_seeded_token(await _read_seeded_token(pooled))
    finally:
        await engine.dispose()


async def _until_a_statement_waits_on_a_lock(db: SessionMaker) -> None:
    """Return once PostgreSQL shows a statement of this test's database waiting on a lock.

    A fixed pause let a loaded machine cancel the read before it reached the server (still
    connecting), so nothing was invalidated and the test failed for the wrong reason.
    """
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with db() as watcher:
        for _ in range(2000):
            if (await watcher.execute(query)).scalar_one():
                return
            await watcher.rollback()  # pg_stat_activity is a snapshot per transaction
            await asyncio.sleep(0.01)
    raise AssertionError("the read never waited on the table lock")


async def test_cancelled_driver_read_invalidates_its_connection(engine_for: EngineFactory) -> None:
    """A read cancelled while the server holds it back gives its connection up, and the gate reopens.

    PostgreSQL: another transaction holds ``LOCK TABLE ... ACCESS EXCLUSIVE``, so the SELECT
    waits on the server; the request is cancelled meanwhile (a client that went away).
    """
    db = await _seeded_sessions(engine_for, "postgresql")
    engine, pooled = await _pooled(db, pool_size=1)
    invalidated: list[object] = []
    event.listen(engine.sync_engine.pool, "invalidate", lambda *args: invalidated.append(args))

    try:
        async with db() as locker:
            await locker.execute(text("LOCK TABLE accesstoken IN ACCESS EXCLUSIVE MODE"))
            task = asyncio.create_task(_read_seeded_token(pooled))
            await _until_a_statement_waits_on_a_lock(db)
            assert not task.done()  # waiting on the server, behind the lock
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=10)
            assert task in done
            assert task.cancelled()
            await locker.rollback()
        assert len(invalidated) == 1
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool's count
        # The gate of one was released: the next read passes it and gets the row.
        found = await asyncio.wait_for(_read_seeded_token(pooled), timeout=10)
        _assert_seeded_token(found)
    finally:
        await engine.dispose()


async def test_values_outside_a_session_step_aside_where_the_orm_must_answer(db: SessionMaker) -> None:
    """``read_values_by_primary_key``: a mapping with relationships, or a read that fails, gives the fallback marker."""
    user_id = await _seed(db)
    engine = db.kw["bind"]
    assert await read_values_by_primary_key(engine, User, user_id) is NOT_READ
    values = await read_values_by_primary_key(engine, AccessToken, "t" * 43)
    if engine.dialect.name != "mysql":
        assert values["user_id"] == user_id
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE accesstoken"))
    assert await read_values_by_primary_key(engine, AccessToken, "t" * 43) is NOT_READ
