"""The driver-level read by primary key gives what the ORM query gives, and steps aside when it must."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fastapi_userkit.db._row_reader import NOT_READ, read_by_primary_key
from tests.conftest import SessionMaker
from tests.models import AccessToken, User


async def _seed(db: SessionMaker) -> uuid.UUID:
    async with db() as session:
        user = User(email="lancelot@camelot.bt", hashed_password="hash")
        session.add(user)
        await session.commit()
        session.add(AccessToken(token="t" * 43, user_id=user.id))
        await session.commit()
        return user.id


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
