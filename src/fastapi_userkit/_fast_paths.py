"""The one place that reaches private attributes of SQLAlchemy and aiosqlite, behind one switch.

The per-request row read (:mod:`fastapi_userkit.db._row_reader`) is cheaper with three things
that no public API offers (issue 17, review item 5):

* ``SessionTransaction._connections``: whether the request's session already holds a
  connection (its transaction then sees its own writes, so the ORM must answer). From
  SQLAlchemy 2.1.7 the public ``SessionTransaction.connections`` says the same and is used
  whatever the switch; before it, the switch off answers "yes" whenever a transaction was
  begun, so the ORM query runs.
* ``_ConnectionFairy._close_special(transaction_reset=True)``: how SQLAlchemy's own
  ``Connection`` tells the pool that nothing needs rolling back. Off: the plain ``close()``,
  whose reset sends a no-op ``ROLLBACK`` (on aiosqlite, one more hand-off to its thread).
* aiosqlite's ``Connection._conn`` (the ``sqlite3`` connection it wraps, which SQLAlchemy's
  own adapter reads too), used on the event loop's thread with the busy timeout at 0. Off:
  the statement goes to aiosqlite's thread through its public ``execute_fetchall``.

The SQL rate-limit backend (:mod:`fastapi_userkit.security.ratelimit.sql`) uses two more:

* ``QueuePool._max_overflow``: whether the app's pool can open one more connection without
  waiting. Off: only an idle connection (public ``checkedin()``) counts, and otherwise the
  backend writes on a connection of its own (more CPU per login, same counts).
* ``Pool._creator``, ``_reset_on_return``, ``_dialect`` and the ``_dispatch`` argument: a
  ``NullPool`` that connects as the app's pool does but keeps no connection idle. Off: the
  public ``Pool.recreate()`` (the same kind of pool with the same arguments), whose idle
  connections stay open until the backend's ``aclose()``.

Each function here answers the same question both ways and gives the same result; only the
CPU spent differs (``bench/RESULTS.md``, "Fast paths on and off"). The switch is
process-wide and on by default: :func:`set_fast_paths` turns it off, for instance when a
SQLAlchemy or aiosqlite upgrade breaks an attribute before a release of this library follows.
``tests/db/test_fast_paths.py`` pins every attribute named here, so such an upgrade fails the
test suite loudly, and CI runs the database tests once more with the switch off
(``make pytest-no-fastpaths``, ``USERKIT_FAST_PATHS=0``).
"""

from __future__ import annotations

import sqlite3
from typing import Any, cast

import aiosqlite
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.pool import NullPool, Pool, PoolProxiedConnection, QueuePool
from sqlalchemy.pool.base import _ConnectionFairy

__all__ = [
    "WOULD_WAIT",
    "check_in",
    "fast_paths_enabled",
    "holds_connection",
    "pool_hands_over_without_waiting",
    "pool_keeping_no_idle_connection",
    "read_on_the_loop",
    "set_fast_paths",
]


class _Switch:
    """The process-wide switch: one flag, read at each use, so a change applies at once."""

    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


_SWITCH = _Switch()

# What the pool's check-out hands out; if a version drops its private ``_close_special``, the
# plain close runs (and tests/db/test_fast_paths.py fails, so it does not go unnoticed).
_CLOSE_SPECIAL = callable(getattr(_ConnectionFairy, "_close_special", None))

# SQLAlchemy 2.1.7 added the public ``SessionTransaction.connections``; earlier versions only
# have the private dict. Decided once, from the installed version, not per object.
_PUBLIC_CONNECTIONS = isinstance(getattr(SessionTransaction, "connections", None), property)


def set_fast_paths(enabled: bool) -> None:
    """Turn the fast paths on or off for the whole process (on by default).

    Off, the per-request lookups by primary key use only public APIs of SQLAlchemy and
    aiosqlite: same results, more CPU per request (``bench/RESULTS.md``). Call it at start-up,
    before serving requests.

    Args:
        enabled: ``False`` to stop reading private attributes of SQLAlchemy and aiosqlite.
    """
    _SWITCH.enabled = enabled


def fast_paths_enabled() -> bool:
    """Whether the fast paths are on (see :func:`set_fast_paths`)."""
    return _SWITCH.enabled


def holds_connection(transaction: SessionTransaction) -> bool:
    """Whether the session's root ``transaction`` has acquired a connection yet.

    A transaction that was only begun (``session.add`` begins one) holds none; the answer
    "yes" is always safe (the ORM query then runs).
    """
    if _PUBLIC_CONNECTIONS:
        return bool(transaction.connections)
    if not _SWITCH.enabled:
        return True
    return _private_holds_connection(transaction)


def _private_holds_connection(transaction: SessionTransaction) -> bool:
    # ``_connections``: bind -> (connection, transaction, ...) in SQLAlchemy 1.4-2.1. If it
    # ever goes, the safe answer is "yes", and the ORM path runs.
    return bool(getattr(transaction, "_connections", True))


def check_in(connection: PoolProxiedConnection, driver: Any) -> None:
    """Return ``connection`` to its pool, without the reset's ``ROLLBACK`` when nothing was begun.

    A lone ``SELECT`` opens no transaction (the ``sqlite3`` module begins one only before a
    write), so the reset's rollback is a no-op that, on aiosqlite, still costs a hand-off to
    the connection's thread. ``_close_special`` is how SQLAlchemy's own ``Connection`` reports
    an already-reset transaction to the pool (reset listeners still run). asyncpg connections,
    which lack ``in_transaction``, and the switch off take the plain close.
    """
    if _CLOSE_SPECIAL and _SWITCH.enabled and isinstance(driver, aiosqlite.Connection) and not driver.in_transaction:
        cast(_ConnectionFairy, connection)._close_special(transaction_reset=True)
    else:
        connection.close()


WOULD_WAIT: Any = object()
"""What :func:`read_on_the_loop` returns when the read must go to aiosqlite's thread."""

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _on_loop_connection(driver: aiosqlite.Connection) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection under an aiosqlite one, to use on the loop's thread; or ``None``."""
    if not _SWITCH.enabled:
        return None
    try:
        return driver._conn  # aiosqlite's sqlite3 connection, as SQLAlchemy's adapter reads it
    except (AttributeError, ValueError):  # not connected, or an aiosqlite without it
        return None


def read_on_the_loop(driver: aiosqlite.Connection, sql: str, parameter: Any) -> Any:
    """Run a one-row ``SELECT`` on the event loop's thread: the row, ``None``, or :data:`WOULD_WAIT`.

    aiosqlite runs every statement on the connection's own thread: a queue hand-off there and a
    wake-up of the loop back, which cost more CPU than the indexed read itself (0.2-0.3 ms of a
    1.1-1.3 ms ``GET /users/me`` in ``bench.cpu_per_request``). The read is done here instead,
    on the ``sqlite3`` connection aiosqlite wraps, which this checkout holds alone, so its
    thread is idle. SQLAlchemy opens file databases with ``check_same_thread=False``; a
    ``:memory:`` one refuses another thread, and the hand-off runs.

    It must never wait: the busy timeout is set to 0 for the statement and put back after it,
    and a read that meets a lock (a writer committing, in rollback-journal mode) gives
    :data:`WOULD_WAIT`, so the caller waits for it on the connection's thread as before. So
    does the switch off, or an aiosqlite connection without ``_conn``.

    Raises:
        sqlite3.Error: The statement failed for another reason than a lock.
    """
    database = _on_loop_connection(driver)
    if database is None:
        return WOULD_WAIT
    try:
        (timeout,) = database.execute("PRAGMA busy_timeout").fetchone()
    except sqlite3.ProgrammingError:  # created with check_same_thread (":memory:")
        return WOULD_WAIT
    if timeout:
        database.execute("PRAGMA busy_timeout = 0")
    try:
        rows = database.execute(sql, (parameter,)).fetchall()
    except sqlite3.OperationalError as error:
        # Python reports SQLite's extended code (SQLITE_BUSY_RECOVERY...): its low byte is the primary one.
        if (error.sqlite_errorcode & 0xFF) in _BUSY_CODES:
            return WOULD_WAIT
        raise
    finally:
        if timeout:
            database.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    return rows[0] if rows else None


def pool_hands_over_without_waiting(pool: Pool) -> bool:
    """Whether ``pool`` gives a connection now: an idle one, or room to open one.

    ``QueuePool`` waits only when it has reached ``pool_size + max_overflow``; below that, a
    checkout takes an idle connection or opens a new one. The limit is private; without it (the
    switch off, or a version that drops it) only an idle connection counts. Any other pool
    class answers no, and the caller opens its own connection.
    """
    if not isinstance(pool, QueuePool):
        return False
    if pool.checkedin() > 0:
        return True
    limit = getattr(pool, "_max_overflow", None) if _SWITCH.enabled else None
    return isinstance(limit, int) and (limit < 0 or pool.overflow() < limit)


def pool_keeping_no_idle_connection(pool: Pool) -> Pool:
    """A pool that connects as ``pool`` does (connect function, reset, dialect, pool events) and keeps none idle.

    The switch off gives ``pool.recreate()``: the same connections, but idle ones stay open
    until the caller disposes of the pool.
    """
    if not _SWITCH.enabled:
        return pool.recreate()
    private: Any = pool
    return NullPool(
        private._creator,
        reset_on_return=private._reset_on_return,
        _dispatch=pool.dispatch,
        dialect=private._dialect,
    )
