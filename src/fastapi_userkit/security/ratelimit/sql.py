"""Rate-limit counters in the SQL database: the default, so the embedded SQLite set-up is protected.

The counters live in a table of their own (``userkit_rate_limit``): a key (a SHA-256 of the
account, or the client's address; never an e-mail address), a count, the end of the window and a
block time, in integer milliseconds. Each hit is one atomic upsert, in the dialect's own form
(``INSERT .. ON CONFLICT`` on SQLite and PostgreSQL, ``ON DUPLICATE KEY UPDATE`` on MariaDB and
MySQL), so workers sharing the database share the counters exactly. A reservation (see
:mod:`~fastapi_userkit.security.ratelimit.backend`) is one transaction: an upsert per key, in
key order, that starts an expired window again and takes the row's lock (SQLite's write lock),
then one locking ``SELECT``, the decision, and an ``UPDATE`` per key when granted. Concurrent
reservations of one key therefore run one after the other, each seeing the counts before it.

The user mixins declare the table in the metadata of the app's user table (issue 16, item 5), so
``create_all``, ``drop_all``, truncation and Alembic autogenerate treat it as one of the app's
tables, and an app test suite that drops its tables between tests drops the counters with them.
For a schema that lacks it, the table is still created on first use per database (``CREATE
TABLE`` only if it is missing). An app managing its schema by hand adds it with
:func:`rate_limit_table`, and may call :meth:`SQLRateLimitBackend.create_table` at start-up so a
missing permission shows there rather than in a log line at the first login.

Counters are written outside the request's session and its transaction, on a connection the
app's pool can hand over without waiting (an idle one, or room for one more); when it cannot, on
a connection opened for that write alone. So a request that already holds a connection of the
app's pool never waits for another one (which, under a burst of concurrent logins, could exhaust
the pool with every request waiting on the next), and in the usual case no connection is opened
per login (a thread and a file open on SQLite, a TCP connection and its authentication on
PostgreSQL: about 3 ms of CPU per login on SQLite).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from sqlalchemy import MetaData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fastapi_userkit._fast_paths import pool_keeping_no_idle_connection
from fastapi_userkit.security.ratelimit._sql_storage import DEFAULT_TABLE_NAME, SQLStorage, rate_limit_table
from fastapi_userkit.security.ratelimit.backend import (
    RateLimitStorage,
    RateLimitStorageError,
)

__all__ = ["DEFAULT_TABLE_NAME", "SQLRateLimitBackend", "rate_limit_table"]


@runtime_checkable
class _SessionBacked(Protocol):
    """A user database holding the request's SQLAlchemy session (``SQLAlchemyUserDatabase`` does)."""

    session: AsyncSession


@runtime_checkable
class _HasUserDatabase(Protocol):
    """A user manager and its storage (every ``BaseUserManager`` is one)."""

    user_db: object


def _sync_engine_of(user_manager: object) -> Engine:
    """The engine behind the user database's session, found through declared protocols and public API.

    ``AsyncSession.get_bind()`` is SQLAlchemy's public way to ask a session for its engine; an
    unbound session raises ``UnboundExecutionError`` there, a ``SQLAlchemyError`` that becomes a
    storage error which ``fail_open`` handles (issue 17: reading ``session.bind`` of an unbound
    session raised an ``AttributeError`` on SQLAlchemy 2.0.58, a 500).
    """
    user_db = user_manager.user_db if isinstance(user_manager, _HasUserDatabase) else None
    session = user_db.session if isinstance(user_db, _SessionBacked) else None
    if not isinstance(session, AsyncSession):
        raise RateLimitStorageError(
            "SQL rate limiting found no SQLAlchemy AsyncSession at user_manager.user_db.session: "
            "pass SQLRateLimitBackend(engine) or a RedisRateLimitBackend in RateLimitSettings.backend."
        )
    try:
        bind = session.get_bind()
    except SQLAlchemyError as exc:
        raise RateLimitStorageError(
            "SQL rate limiting needs the user database's session bound to one engine or connection: "
            "pass SQLRateLimitBackend(engine) in RateLimitSettings.backend."
        ) from exc
    return bind.engine if isinstance(bind, Connection) else bind


class SQLRateLimitBackend:
    """Counters in a table of the app's SQL database (SQLite, PostgreSQL, MariaDB/MySQL).

    Args:
        engine: The database to use. ``None`` (default): the database behind the user manager's
            session (``user_manager.user_db.session``), reached through a second connection pool.
        table_name: The counter table's name.
        create_table: Create the table on first use if it is missing. With ``False`` the app
            creates it (:func:`rate_limit_table`, or :meth:`create_table` at start-up).
    """

    def __init__(
        self,
        engine: AsyncEngine | None = None,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        create_table: bool = True,
    ) -> None:
        self.engine = engine
        self.table = rate_limit_table(MetaData(), table_name)
        self.create_table_on_first_use = create_table
        # Per app engine: (the engine, kept so its id is never reused; our engine over it; the
        # app's engine as an AsyncEngine, borrowed when its pool need not wait).
        self._engines: dict[int, tuple[Engine, AsyncEngine, AsyncEngine]] = {}
        self._ready: set[int] = set()

    async def storage_for(self, user_manager: Any) -> RateLimitStorage:
        """Return the store for the database of ``user_manager`` (or of the configured engine).

        Raises:
            RateLimitStorageError: No SQLAlchemy session on the manager, or the table is missing
                and cannot be created.
        """
        if self.engine is not None:
            engine, app_engine = self.engine, None
        else:
            engine, app_engine = self._limiter_engines(_sync_engine_of(user_manager))
        key = id(engine.sync_engine)
        if key not in self._ready:
            if self.create_table_on_first_use:
                await self.create_table(engine)
            self._ready.add(key)
        return SQLStorage(engine, self.table, app_engine)

    async def create_table(self, engine: AsyncEngine) -> None:
        """Create the counter table in ``engine``'s database if it is missing.

        Call it from the app's lifespan to find a missing permission at start-up.

        Raises:
            RateLimitStorageError: The table is missing and could not be created.
        """
        try:
            async with engine.begin() as connection:
                await connection.run_sync(self.table.create, checkfirst=True)
        except SQLAlchemyError as exc:
            # Another worker may have created it between our check and our CREATE.
            if not await self._table_exists(engine):
                raise RateLimitStorageError(
                    f"The rate-limit table {self.table.name!r} is missing and could not be created: {exc}"
                ) from exc

    async def aclose(self) -> None:
        """Close the connection pools this backend opened."""
        engines = [limiter for _, limiter, _ in self._engines.values()]
        self._engines.clear()
        self._ready.clear()
        for engine in engines:
            await engine.dispose()

    async def _table_exists(self, engine: AsyncEngine) -> bool:
        try:
            async with engine.connect() as connection:
                return bool(await connection.run_sync(lambda sync: sync.dialect.has_table(sync, self.table.name)))
        except SQLAlchemyError:
            return False

    def _limiter_engines(self, app_engine: Engine) -> tuple[AsyncEngine, AsyncEngine]:
        known = self._engines.get(id(app_engine))
        if known is not None and known[0] is app_engine:
            return known[1], known[2]
        # Same dialect, connect function and pool events, but no pool of idle connections: a
        # counter write that cannot borrow one of the app's opens its own connection and closes
        # it (module docstring), so no idle connection of ours outlives the app's engine.
        pool = pool_keeping_no_idle_connection(app_engine.pool)  # private attributes: _fast_paths
        limiter = AsyncEngine(Engine(pool, app_engine.dialect, app_engine.url))
        borrowed = AsyncEngine(app_engine)
        self._engines[id(app_engine)] = (app_engine, limiter, borrowed)
        return limiter, borrowed
