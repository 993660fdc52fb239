"""The per-request lookups by primary key, read through the driver instead of the ORM.

Every authenticated request reads the user row (and, with the database strategy, the token row
before it). Through ``AsyncSession.execute`` that read costs about three times the query itself:
the ORM compiles a cache key, begins a transaction (``BEGIN`` on PostgreSQL), loads the row into
an instance, and the session's close rolls the transaction back (a second round trip on
PostgreSQL, another hand-off to the SQLite thread). Measured in ``bench/``: 0.7 ms (PostgreSQL)
and 0.9 ms (SQLite) of CPU per lookup against 0.26 ms and 0.35 ms here.

This module reads the same row with one statement on a connection checked out of the
application's own pool (so pool size, overflow, timeouts and pre-ping still apply), outside any
transaction, and builds the instance the way the ORM's loader does: without calling
``__init__``, attributes set as committed state, then attached to the request's session as a
persistent object. The caller gets what ``session.execute(select(...))`` would have given: an
instance in the session's identity map, with no pending change, that later writes go through.

It steps aside (the caller then runs the ORM query) whenever the ORM could have given a
different answer or someone expects to see the query:

* the session already holds a connection (a transaction in progress sees its own writes and
  its snapshot) or has pending changes (the ORM would autoflush them first), or the object is
  already in its identity map;
* the session is bound to a ``Connection`` rather than an engine (the "join an external
  transaction" test pattern);
* the engine logs SQL (``echo``), has execution options other than the isolation level, or has
  execute listeners (tracing, query counters), or the session has ``do_orm_execute`` or
  ``loaded_as_persistent`` listeners (global filters such as soft deletes);
* the mapping is not a plain one: inheritance, relationships, deferred or expression columns,
  a composite primary key, ``load`` listeners or ``@reconstructor``, or a column type whose
  driver conversion needs the result's type code (``Numeric``, ``JSON``...);
* the driver is not asyncpg or aiosqlite (MariaDB/MySQL take the ORM path), or the read fails
  (the connection is then invalidated and the ORM path reports the error the usual way).

On aiosqlite the statement runs on the event loop's thread, not the connection's
(:func:`~fastapi_userkit._fast_paths.read_on_the_loop`): an indexed one-row read costs less
there than the hand-off to that thread and back. It never waits on the loop: a read that meets a
lock goes to the connection's thread, which waits as any aiosqlite statement does. The request
still yields to the loop once after the read, as it did during the hand-off (see
:func:`_fetch_on_connection`).

Reads in flight at once are capped at the pool's size, first come first served (:class:`_Gate`),
and a connection goes back without the reset's no-op ``ROLLBACK`` when the driver shows no
transaction (:func:`~fastapi_userkit._fast_paths.check_in`): under 64 concurrent requests on
SQLite that took the p99 of ``GET /users/me`` from 1.35 s to 0.30 s (``bench/RESULTS.md``).

This module uses public APIs of SQLAlchemy, asyncpg and aiosqlite only. What needs a private
attribute (the on-loop SQLite read, the check-in without ``ROLLBACK``, and on SQLAlchemy before
2.1.7 whether the session holds a connection) is in :mod:`fastapi_userkit._fast_paths`,
behind its switch: off, the same rows are read through public APIs only.

No result is cached: every call reads the row, so a deactivated user or a deleted token fails
on the very next request, in every worker.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Table, bindparam, select
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import ColumnProperty, Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import await_only, greenlet_spawn

from fastapi_userkit._fast_paths import WOULD_WAIT, check_in, holds_connection, read_on_the_loop

__all__ = ["NOT_READ", "read_by_primary_key", "read_values_by_primary_key"]

NOT_READ: Any = object()
"""What :func:`read_by_primary_key` returns when the caller must run its ORM query."""

# Types whose result conversion is the same whatever type code the driver reports. Anything
# else (Numeric chooses Decimal or float from the code on asyncpg, JSON, ARRAY, user types with
# such an impl) takes the ORM path.
_PLAIN_TYPES = (
    sqltypes.String,
    sqltypes.Boolean,
    sqltypes.Integer,
    sqltypes.DateTime,
    sqltypes.Date,
    sqltypes.Time,
    sqltypes.Uuid,
    sqltypes.LargeBinary,
)
_DRIVERS = frozenset({"asyncpg", "aiosqlite"})
_HARMLESS_ENGINE_OPTIONS = frozenset({"isolation_level"})
_ENGINE_EVENTS = ("before_execute", "after_execute", "before_cursor_execute", "after_cursor_execute")
_SESSION_EVENTS = ("do_orm_execute", "loaded_as_persistent")

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    """One compiled ``SELECT <columns> FROM <table> WHERE <pk> = ?`` for one dialect."""

    sql: str
    bind: Processor
    keys: tuple[str, ...]
    processors: tuple[Processor, ...]


# mapper -> dialect -> plan (None: not eligible). Weak keys, so the mapped classes and engines
# that tests create by the hundred are not kept alive; a plan holds neither.
_PLANS: weakref.WeakKeyDictionary[Mapper[Any], weakref.WeakKeyDictionary[Dialect, _Plan | None]] = (
    weakref.WeakKeyDictionary()
)


def _plain_type(type_: sqltypes.TypeEngine[Any], dialect: Dialect) -> bool:
    while isinstance(type_, sqltypes.TypeDecorator):
        type_ = type_.load_dialect_impl(dialect)
    return isinstance(type_, _PLAIN_TYPES)


def _columns(mapper: Mapper[Any]) -> list[tuple[str, Column[Any]]] | None:
    """The ``(attribute, column)`` pairs of a plain mapping, or ``None``."""
    table = mapper.local_table
    if (
        mapper.inherits is not None
        or mapper.polymorphic_on is not None
        or not isinstance(table, Table)
        or mapper.persist_selectable is not table
        or mapper.relationships
        or mapper.composites
        or len(mapper.primary_key) != 1
        or mapper.class_manager.dispatch.load
    ):
        return None
    pairs = []
    for prop in mapper.column_attrs:
        column = prop.columns[0] if len(prop.columns) == 1 else None
        if (
            not isinstance(prop, ColumnProperty)
            or prop.deferred
            or not isinstance(column, Column)
            or column.table is not table
        ):
            return None
        pairs.append((prop.key, column))
    return pairs


def _build_plan(mapper: Mapper[Any], dialect: Dialect) -> _Plan | None:
    if dialect.driver not in _DRIVERS:
        return None
    pairs = _columns(mapper)
    if pairs is None or not all(_plain_type(column.type, dialect) for _, column in pairs):
        return None
    primary_key = mapper.primary_key[0]
    statement = select(*(column for _, column in pairs)).where(primary_key == bindparam("pk", type_=primary_key.type))
    compiled = statement.compile(dialect=dialect)
    if list(compiled.positiontup or ()) != ["pk"]:
        return None
    return _Plan(
        sql=str(compiled),
        bind=primary_key.type.dialect_impl(dialect).bind_processor(dialect),
        keys=tuple(key for key, _ in pairs),
        processors=tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for _, column in pairs),
    )


def _plan(mapper: Mapper[Any], dialect: Dialect) -> _Plan | None:
    by_dialect = _PLANS.get(mapper)
    if by_dialect is None:
        by_dialect = _PLANS[mapper] = weakref.WeakKeyDictionary()
    if dialect not in by_dialect:
        by_dialect[dialect] = _build_plan(mapper, dialect)
    return by_dialect[dialect]


def _holds_connection(session: AsyncSession) -> bool:
    transaction = session.sync_session.get_transaction()
    return transaction is not None and holds_connection(transaction)


def _plain_engine(bind: Any) -> Engine | None:
    """``bind`` if it is an engine that nobody watches (no ``echo``, options or execute listeners)."""
    if not isinstance(bind, Engine) or bind.echo:
        return None
    if not set(bind.get_execution_options()) <= _HARMLESS_ENGINE_OPTIONS:
        return None
    if any(getattr(bind.dispatch, name) for name in _ENGINE_EVENTS):
        return None
    return bind


def _engine_if_plain(session: AsyncSession, mapper: Mapper[Any]) -> Engine | None:
    sync_session = session.sync_session
    if any(getattr(sync_session.dispatch, name) for name in _SESSION_EVENTS):
        return None
    if sync_session.new or sync_session.dirty or sync_session.deleted or _holds_connection(session):
        return None
    return _plain_engine(sync_session.get_bind(mapper=mapper))


class _Gate:
    """At most ``pool_size`` reads of this module at once per engine, served first come, first served.

    Under load, more reads in flight than the pool keeps open make the pool open and close
    overflow connections by the hundred (on aiosqlite, a thread each), and its wait queue lets a
    newcomer take a connection a woken waiter was about to get, so a few requests wait seconds
    while most pass at once. An ``asyncio.Semaphore`` is first come, first served; sized to the
    pool, it keeps these one-statement reads on the pool's retained connections. Bound to one
    event loop; a new loop (a new test) gets a new one.
    """

    __slots__ = ("loop", "semaphore")

    def __init__(self, size: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.semaphore = asyncio.Semaphore(size)


_GATES: weakref.WeakKeyDictionary[Engine, _Gate] = weakref.WeakKeyDictionary()


def _gate(engine: Engine) -> asyncio.Semaphore | None:
    """The engine's gate; ``None`` when its pool has no fixed size (``NullPool``, ``StaticPool``...)."""
    pool = engine.pool
    if not isinstance(pool, QueuePool) or pool.size() < 1:
        return None
    gate = _GATES.get(engine)
    if gate is None or gate.loop is not asyncio.get_running_loop():
        gate = _GATES[engine] = _Gate(pool.size())
    return gate.semaphore


async def _fetch(engine: Engine, plan: _Plan, value: Any) -> Sequence[Any] | None:
    parameter = plan.bind(value) if plan.bind is not None else value
    gate = _gate(engine)
    if gate is not None:
        await gate.acquire()
    try:
        return await _fetch_on_connection(engine, plan, parameter)
    finally:
        if gate is not None:
            gate.release()


async def _fetch_on_connection(engine: Engine, plan: _Plan, parameter: Any) -> Sequence[Any] | None:
    row, read_on_the_loop = await greenlet_spawn(_read_on_connection, engine, plan, parameter)
    if read_on_the_loop:
        # Yield once, inside the gate, where the hand-off to aiosqlite's thread did: the
        # requests behind it then pass the gate in arrival order. Without that pause
        # (or with it after the gate), 64 connections were served unevenly: p99 of
        # GET /users/me 0.7-2.8 s instead of 0.2 s, a few requests over 2 s, with no
        # slow request inside the app (bench/RESULTS.md, 2026-12-03 afternoon).
        await asyncio.sleep(0)
    return cast(Sequence[Any] | None, row)


def _read_on_connection(engine: Engine, plan: _Plan, parameter: Any) -> tuple[Any, bool]:
    """Check a connection out, read the row, check it in: ``(row, read on the loop's thread)``.

    Runs inside one greenlet (SQLAlchemy's bridge from sync code to the driver's awaitables):
    the pool's checkout and check-in may await (pre-ping, a new connection, the reset's
    rollback), and so does a read through the driver. One greenlet for the three steps costs
    one switch instead of one per step (``bench.cpu_per_request``).
    """
    connection = engine.raw_connection()
    driver: Any = connection.driver_connection
    row: Any = WOULD_WAIT
    if engine.dialect.driver == "aiosqlite":
        try:
            row = read_on_the_loop(driver, plan.sql, parameter)
        except sqlite3.Error:
            # It failed on this thread with nothing in flight: the connection is sound and goes
            # back as it is (invalidating it would close aiosqlite's thread for nothing).
            check_in(connection, driver)
            raise
    on_the_loop = row is not WOULD_WAIT
    try:
        if engine.dialect.driver == "asyncpg":
            row = await_only(driver.fetchrow(plan.sql, parameter))
        elif not on_the_loop:
            # aiosqlite's public API: the statement runs on the connection's own thread.
            rows = await_only(driver.execute_fetchall(plan.sql, (parameter,)))
            row = rows[0] if rows else None
    except BaseException:
        connection.invalidate()
        connection.close()
        raise
    check_in(connection, driver)
    return row, on_the_loop


async def read_by_primary_key(session: AsyncSession, mapped_class: type[Any], value: Any) -> Any:
    """Read the ``mapped_class`` row whose primary key is ``value``, as a persistent instance.

    Returns:
        The instance, attached to ``session``; ``None`` if there is no such row; or
        :data:`NOT_READ` when this path does not apply (see the module docstring) and the caller
        must run its ORM query.
    """
    mapper: Mapper[Any] = mapped_class.__mapper__
    engine = _engine_if_plain(session, mapper)
    if engine is None:
        return NOT_READ
    plan = _plan(mapper, engine.dialect)
    if plan is None or mapper.identity_key_from_primary_key((value,)) in session.sync_session.identity_map:
        return NOT_READ
    try:
        row = await _fetch(engine, plan, value)
    except Exception:  # noqa: BLE001 - the ORM path runs the query again and reports its error
        return NOT_READ
    if row is None:
        return None
    instance = mapper.class_manager.new_instance()
    for key, processor, item in zip(plan.keys, plan.processors, row, strict=True):
        set_committed_value(instance, key, processor(item) if processor is not None else item)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


async def read_values_by_primary_key(engine: AsyncEngine, mapped_class: type[Any], value: Any) -> Any:
    """Read the ``mapped_class`` row whose primary key is ``value`` as ``{attribute: value}``, outside any session.

    For stores that run each lookup in a short session of their own (the session store's check
    of every request's session): the same statement, gate and connection handling as
    :func:`read_by_primary_key`, and the same conditions on the engine and the mapping, but no
    ORM instance is built or attached. Like it, nothing is cached: every call reads the row.

    Returns:
        The column values by attribute name; ``None`` if there is no such row; or
        :data:`NOT_READ` when this path does not apply and the caller must run its ORM query.
    """
    bind = _plain_engine(engine.sync_engine)
    if bind is None:
        return NOT_READ
    plan = _plan(mapped_class.__mapper__, bind.dialect)
    if plan is None:
        return NOT_READ
    try:
        row = await _fetch(bind, plan, value)
    except Exception:  # noqa: BLE001 - the ORM path runs the query again and reports its error
        return NOT_READ
    if row is None:
        return None
    return {
        key: processor(item) if processor is not None else item
        for key, processor, item in zip(plan.keys, plan.processors, row, strict=True)
    }
