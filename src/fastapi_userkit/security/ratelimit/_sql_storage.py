"""The SQL rate-limit store: the counter table and its atomic, per-dialect reads and writes.

See :mod:`fastapi_userkit.security.ratelimit.sql` for the design (one upsert per hit, reservations
as one transaction in key order, writes outside the request's session on a connection the app's
pool hands over without waiting). This module holds the table and the store over one engine;
``sql`` finds the engine and owns the connection pools.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, case, delete, select, text, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fastapi_userkit._fast_paths import pool_hands_over_without_waiting
from fastapi_userkit.security.ratelimit.backend import (
    Counter,
    Hit,
    RateLimitStorage,
    RateLimitStorageError,
    Reservation,
    counted,
    refuses,
)

__all__ = ["DEFAULT_TABLE_NAME", "SQLStorage", "rate_limit_table"]

DEFAULT_TABLE_NAME = "userkit_rate_limit"
# Expired rows are deleted now and then, on about one hit in this many.
_PURGE_ONE_IN = 64
# 191 characters: the longest indexable VARCHAR in utf8mb4 on old MySQL row formats.
_KEY_LENGTH = 191


def rate_limit_table(metadata: MetaData, name: str = DEFAULT_TABLE_NAME) -> Table:
    """Declare the counter table in ``metadata`` (for ``create_all`` or Alembic autogenerate).

    The user table mixins already declare it in the user table's metadata; there this returns
    the table they declared, so an app that calls it too (as earlier releases asked) keeps working.

    Example::

        class Base(DeclarativeBase): ...

        rate_limit_table(Base.metadata)  # created with the app's own tables
    """
    existing = metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(
        name,
        metadata,
        Column("key", String(_KEY_LENGTH), primary_key=True),
        Column("count", Integer, nullable=False),
        Column("reset_at", BigInteger, nullable=False, index=True),
        Column("blocked_until", BigInteger, nullable=False),
    )


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _greatest(left: Any, right: Any) -> Any:
    # Portable max(): SQLite has no GREATEST(), MySQL's max() is an aggregate.
    return case((left > right, left), else_=right)


async def _without_flush_wait(connection: AsyncConnection) -> None:
    """On PostgreSQL, let this transaction's commit return before its WAL record reaches disk.

    A counter write is the only write of a successful login (its reservation, then its release),
    and waiting for the flush cost 10-20 ms per commit on the test machine. A crash can lose the
    last few hundred milliseconds of counts, never corrupt them (PostgreSQL manual, 28.4
    "Asynchronous Commit"); ``SET LOCAL`` applies to this transaction alone, never to the app's
    other work on a borrowed connection.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL synchronous_commit TO OFF"))


class SQLStorage(RateLimitStorage):
    def __init__(self, engine: AsyncEngine, table: Table, app_engine: AsyncEngine | None = None) -> None:
        self._own_engine = engine
        self._app_engine = app_engine
        self.table = table

    @property
    def engine(self) -> AsyncEngine:
        """The engine of the next statement: the app's when its pool need not wait, else ours."""
        app = self._app_engine
        if app is not None and pool_hands_over_without_waiting(app.sync_engine.pool):
            return app
        return self._own_engine

    async def hit(self, key: str, *, now: float, window: float, sliding: bool) -> Counter:
        table = self.table
        now_ms, end_ms = _ms(now), _ms(now + window)
        expired = table.c.reset_at <= now_ms
        count = case((expired, 1), else_=table.c.count + 1)
        blocked = case((expired, 0), else_=table.c.blocked_until)
        reset_at = case((expired, end_ms), else_=_greatest(table.c.reset_at, end_ms) if sliding else table.c.reset_at)
        values = {"key": key, "count": 1, "reset_at": end_ms, "blocked_until": 0}
        try:
            async with self.engine.begin() as connection:
                dialect = connection.dialect.name
                if dialect in {"mysql", "mariadb"}:
                    # MySQL applies ON DUPLICATE KEY UPDATE assignments left to right, each
                    # seeing the previous ones: reset_at, which the others read, goes last.
                    statement: Any = mysql.insert(table).values(values)
                    statement = statement.on_duplicate_key_update(
                        [("count", count), ("blocked_until", blocked), ("reset_at", reset_at)]
                    )
                else:
                    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                    statement = insert(table).values(values)
                    statement = statement.on_conflict_do_update(
                        index_elements=[table.c.key],
                        set_={"count": count, "blocked_until": blocked, "reset_at": reset_at},
                    )
                await connection.execute(statement)
                # Same transaction: the upsert's row lock (or SQLite's write lock) is still held.
                row = (await connection.execute(self._select([key]))).one()
                if secrets.randbelow(_PURGE_ONE_IN) == 0:
                    await connection.execute(delete(table).where(table.c.reset_at <= now_ms))
        except SQLAlchemyError as exc:
            raise RateLimitStorageError(f"Rate-limit hit failed: {exc.__class__.__name__}") from exc
        return self._counter(row)

    async def reserve(self, hits: Sequence[Hit], *, now: float) -> Reservation:
        # Keys are locked in one order, so two reservations never wait on each other in a cycle.
        ordered = sorted(hits, key=lambda hit: hit.key)
        keys = [hit.key for hit in ordered]
        try:
            async with self.engine.begin() as connection:
                await _without_flush_wait(connection)
                for hit in ordered:
                    await connection.execute(self._touch(connection.dialect.name, hit, now))
                rows = (await connection.execute(self._select(keys).with_for_update())).all()
                before = {row.key: self._counter(row) for row in rows}
                refused = frozenset(hit.key for hit in ordered if refuses(hit, before[hit.key], now))
                if refused:
                    return Reservation(granted=False, counters=before, refused=refused)
                after = {hit.key: counted(hit, before[hit.key], now) for hit in ordered}
                for key, counter in after.items():
                    await connection.execute(
                        update(self.table)
                        .where(self.table.c.key == key)
                        .values(
                            count=counter.count,
                            reset_at=_ms(counter.reset_at),
                            blocked_until=_ms(counter.blocked_until),
                        )
                    )
        except SQLAlchemyError as exc:
            raise RateLimitStorageError(f"Rate-limit reservation failed: {exc.__class__.__name__}") from exc
        if secrets.randbelow(_PURGE_ONE_IN) == 0:
            # A transaction of its own: deleting expired rows while holding this reservation's
            # locks could wait on another reservation that waits on ours.
            await self._run(delete(self.table).where(self.table.c.reset_at <= _ms(now)))
        return Reservation(granted=True, counters=after)

    async def release(
        self, keys: Sequence[str], *, now: float, forget: Sequence[str] = (), unhold: Mapping[str, float] | None = None
    ) -> None:
        table = self.table
        forgotten = set(forget)
        # The hold was written as _ms() of the same float (see reserve), so equality is exact.
        held = {key: _ms(until) for key, until in (unhold or {}).items()}
        try:
            async with self.engine.begin() as connection:
                await _without_flush_wait(connection)
                # One statement per key, in the reservations' key order: a multi-row UPDATE
                # locks rows in no set order and could deadlock with a reservation.
                for key in sorted(set(keys) | forgotten):
                    if key in forgotten:
                        await connection.execute(delete(table).where(table.c.key == key))
                    else:
                        await connection.execute(
                            update(table)
                            .where(table.c.key == key, table.c.reset_at > _ms(now), table.c.count > 0)
                            .values(
                                count=table.c.count - 1,
                                blocked_until=case(
                                    (table.c.blocked_until == held.get(key, -1), 0), else_=table.c.blocked_until
                                ),
                            )
                        )
        except SQLAlchemyError as exc:
            raise RateLimitStorageError(f"Rate-limit release failed: {exc.__class__.__name__}") from exc

    def _touch(self, dialect: str, hit: Hit, now: float) -> Any:
        """An upsert that creates ``hit``'s row or starts its expired window again, and locks it."""
        table = self.table
        now_ms, end_ms = _ms(now), _ms(now + hit.window)
        expired = table.c.reset_at <= now_ms
        values = {"key": hit.key, "count": 0, "reset_at": end_ms, "blocked_until": 0}
        count = case((expired, 0), else_=table.c.count)
        blocked = case((expired, 0), else_=table.c.blocked_until)
        reset_at = case((expired, end_ms), else_=table.c.reset_at)
        if dialect in {"mysql", "mariadb"}:
            # Assignments apply left to right, each seeing the previous: reset_at goes last.
            statement: Any = mysql.insert(table).values(values)
            return statement.on_duplicate_key_update(
                [("count", count), ("blocked_until", blocked), ("reset_at", reset_at)]
            )
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return (
            insert(table)
            .values(values)
            .on_conflict_do_update(
                index_elements=[table.c.key], set_={"count": count, "blocked_until": blocked, "reset_at": reset_at}
            )
        )

    async def block(self, key: str, *, now: float, until: float, keep: float) -> None:
        table = self.table
        until_ms, keep_ms = _ms(until), _ms(until + keep)
        statement = (
            update(table)
            .where(table.c.key == key, table.c.reset_at > _ms(now))
            .values(
                blocked_until=_greatest(table.c.blocked_until, until_ms),
                reset_at=_greatest(table.c.reset_at, keep_ms),
            )
        )
        await self._run(statement)

    async def read(self, keys: Sequence[str], *, now: float) -> dict[str, Counter]:
        try:
            async with self.engine.connect() as connection:
                rows = (await connection.execute(self._select(keys))).all()
        except SQLAlchemyError as exc:
            raise RateLimitStorageError(f"Rate-limit read failed: {exc.__class__.__name__}") from exc
        counters = {row.key: self._counter(row) for row in rows}
        return {key: counter for key, counter in counters.items() if counter.reset_at > now}

    async def clear(self, key: str) -> None:
        await self._run(delete(self.table).where(self.table.c.key == key))

    def _select(self, keys: Sequence[str]) -> Any:
        table = self.table
        return select(table.c.key, table.c.count, table.c.reset_at, table.c.blocked_until).where(
            table.c.key.in_(list(keys))
        )

    @staticmethod
    def _counter(row: Any) -> Counter:
        return Counter(count=row.count, reset_at=row.reset_at / 1000, blocked_until=row.blocked_until / 1000)

    async def _run(self, statement: Any) -> None:
        try:
            async with self.engine.begin() as connection:
                await connection.execute(statement)
        except SQLAlchemyError as exc:
            raise RateLimitStorageError(f"Rate-limit write failed: {exc.__class__.__name__}") from exc
