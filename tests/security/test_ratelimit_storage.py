"""Rate-limit counter stores on real SQLite, PostgreSQL, MariaDB and Redis: atomic, windowed, shared."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fastapi_userkit.security import RateLimitStorageError, RedisRateLimitBackend, SQLRateLimitBackend
from fastapi_userkit.security.ratelimit import Hit, RateLimitStorage, rate_limit_table
from tests.conftest import REDIS_PREFIX, REDIS_URL, EngineFactory, database_url_for, make_engine, require_service

NOW = 1_700_000_000.0


class _UserDB:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


class _Manager:
    """Stands in for a user manager: the SQL backend only reads ``user_db.session``."""

    def __init__(self, session: AsyncSession) -> None:
        self.user_db = _UserDB(session)


async def _drop_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(rate_limit_table(MetaData()).drop, checkfirst=True)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "redis"])
async def storage(request: pytest.FixtureRequest, engine_for: EngineFactory) -> AsyncIterator[RateLimitStorage]:
    """A counter store on each database and on Redis, empty."""
    kind = str(request.param)
    if kind == "redis":
        require_service("redis")
        from redis.asyncio import Redis

        client: Redis = Redis.from_url(REDIS_URL)
        prefix = f"{REDIS_PREFIX}rl-storage:"
        yield RedisRateLimitBackend(client, prefix=prefix)
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        return
    engine = await engine_for(kind)
    await _drop_table(engine)
    backend = SQLRateLimitBackend()
    async with AsyncSession(engine) as session:
        yield await backend.storage_for(_Manager(session))
    await backend.aclose()


async def test_hit_counts_within_a_fixed_window(storage: RateLimitStorage) -> None:
    """Hits in one window count up; the window end does not move."""
    first = await storage.hit("k", now=NOW, window=60, sliding=False)

    second = await storage.hit("k", now=NOW + 10, window=60, sliding=False)

    assert (first.count, second.count) == (1, 2)
    assert first.reset_at == second.reset_at == NOW + 60


async def test_hit_after_the_window_starts_again(storage: RateLimitStorage) -> None:
    """A hit at or after the window's end starts a new count with a new end."""
    await storage.hit("k", now=NOW, window=60, sliding=False)
    await storage.hit("k", now=NOW + 1, window=60, sliding=False)

    counter = await storage.hit("k", now=NOW + 60, window=60, sliding=False)

    assert counter.count == 1
    assert counter.reset_at == NOW + 120


async def test_sliding_hit_pushes_the_window_end(storage: RateLimitStorage) -> None:
    """A sliding hit keeps the count and moves the end to ``now + window``."""
    await storage.hit("k", now=NOW, window=60, sliding=True)

    counter = await storage.hit("k", now=NOW + 50, window=60, sliding=True)

    assert counter.count == 2
    assert counter.reset_at == NOW + 110


async def test_block_never_shortens_and_keeps_the_counter(storage: RateLimitStorage) -> None:
    """A block sets ``blocked_until``, a shorter later block leaves it, and the counter lives past it."""
    await storage.hit("k", now=NOW, window=60, sliding=True)
    await storage.block("k", now=NOW, until=NOW + 120, keep=60)

    await storage.block("k", now=NOW, until=NOW + 30, keep=60)
    counters = await storage.read(["k"], now=NOW + 170)

    assert counters["k"].blocked_until == NOW + 120
    assert counters["k"].reset_at == NOW + 180


async def test_block_of_a_missing_key_does_nothing(storage: RateLimitStorage) -> None:
    """Blocking a key that was never hit creates nothing."""
    await storage.block("ghost", now=NOW, until=NOW + 120, keep=60)

    assert await storage.read(["ghost"], now=NOW) == {}


async def test_read_leaves_out_expired_and_missing_keys(storage: RateLimitStorage) -> None:
    """``read`` returns live counters only."""
    await storage.hit("old", now=NOW, window=10, sliding=False)
    await storage.hit("live", now=NOW, window=100, sliding=False)

    counters = await storage.read(["old", "live", "missing"], now=NOW + 20)

    assert set(counters) == {"live"}
    assert counters["live"].count == 1


async def test_clear_forgets_the_key(storage: RateLimitStorage) -> None:
    """After ``clear`` the next hit counts from 1."""
    await storage.hit("k", now=NOW, window=60, sliding=False)
    await storage.hit("k", now=NOW, window=60, sliding=False)

    await storage.clear("k")
    counter = await storage.hit("k", now=NOW, window=60, sliding=False)

    assert counter.count == 1


async def test_concurrent_hits_are_atomic(storage: RateLimitStorage) -> None:
    """Twenty concurrent hits on one key get twenty distinct counts (no lost update)."""
    await storage.hit("k", now=NOW, window=60, sliding=False)

    results = await asyncio.gather(*(storage.hit("k", now=NOW, window=60, sliding=False) for _ in range(20)))

    assert sorted(counter.count for counter in results) == list(range(2, 22))


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql", "mariadb"])
async def test_table_is_created_on_first_use(backend_name: str, engine_for: EngineFactory) -> None:
    """The SQL backend creates its table on first use and reaches the database through the manager's session."""
    engine = await engine_for(backend_name)
    await _drop_table(engine)
    backend = SQLRateLimitBackend()

    async with AsyncSession(engine) as session:
        storage = await backend.storage_for(_Manager(session))
        await storage.hit("k", now=NOW, window=60, sliding=False)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    await backend.aclose()

    assert "userkit_rate_limit" in tables


async def test_table_declared_in_app_metadata_is_used(engine_for: EngineFactory) -> None:
    """An app that creates the table with its own metadata needs no creation by the backend."""
    engine = await engine_for("sqlite")
    metadata = MetaData()
    rate_limit_table(metadata)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    backend = SQLRateLimitBackend(engine, create_table=False)

    storage = await backend.storage_for(object())
    counter = await storage.hit("k", now=NOW, window=60, sliding=False)

    assert counter.count == 1


async def test_missing_table_without_creation_is_a_storage_error(engine_for: EngineFactory) -> None:
    """With ``create_table=False`` and no table, a hit raises ``RateLimitStorageError`` (never a raw DB error)."""
    engine = await engine_for("sqlite")
    storage = await SQLRateLimitBackend(engine, create_table=False).storage_for(object())

    with pytest.raises(RateLimitStorageError):
        await storage.hit("k", now=NOW, window=60, sliding=False)


async def test_manager_without_sqlalchemy_session_is_a_storage_error() -> None:
    """A user database that is not SQLAlchemy gives a clear ``RateLimitStorageError``."""
    manager: Any = object()

    with pytest.raises(RateLimitStorageError, match="RedisRateLimitBackend"):
        await SQLRateLimitBackend().storage_for(manager)


async def test_redis_outage_is_a_storage_error() -> None:
    """An unreachable Redis gives ``RateLimitStorageError``."""
    from redis.asyncio import Redis

    client: Redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    backend = RedisRateLimitBackend(client)

    with pytest.raises(RateLimitStorageError):
        await backend.hit("k", now=NOW, window=60, sliding=False)
    with pytest.raises(RateLimitStorageError):
        await backend.read(["k"], now=NOW)
    with pytest.raises(RateLimitStorageError):
        await backend.clear("k")
    await client.aclose()


async def test_session_bound_to_a_connection_is_followed_to_its_engine(engine_for: EngineFactory) -> None:
    """A session bound to a connection (the test-transaction pattern) still finds the database."""
    engine = await engine_for("sqlite")
    backend = SQLRateLimitBackend()

    async with engine.connect() as connection, AsyncSession(bind=connection) as session:
        storage = await backend.storage_for(_Manager(session))
        counter = await storage.hit("k", now=NOW, window=60, sliding=False)
    await backend.aclose()

    assert counter.count == 1


async def test_unbound_session_is_a_storage_error() -> None:
    """A session without a single bind gives a clear ``RateLimitStorageError``."""
    async with AsyncSession() as session:
        with pytest.raises(RateLimitStorageError, match="SQLRateLimitBackend"):
            await SQLRateLimitBackend().storage_for(_Manager(session))


async def test_table_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    """A database where the table cannot be created (read-only) raises ``RateLimitStorageError`` naming the table."""
    path = tmp_path / "readonly.db"
    path.touch()
    engine = make_engine(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    backend = SQLRateLimitBackend(engine)

    with pytest.raises(RateLimitStorageError, match="userkit_rate_limit"):
        await backend.storage_for(object())
    await engine.dispose()


async def test_every_operation_on_a_missing_table_is_a_storage_error(engine_for: EngineFactory) -> None:
    """Read, block and clear wrap database errors in ``RateLimitStorageError`` too."""
    engine = await engine_for("sqlite")
    storage = await SQLRateLimitBackend(engine, create_table=False).storage_for(object())

    with pytest.raises(RateLimitStorageError):
        await storage.read(["k"], now=NOW)
    with pytest.raises(RateLimitStorageError):
        await storage.block("k", now=NOW, until=NOW + 1, keep=1)
    with pytest.raises(RateLimitStorageError):
        await storage.clear("k")


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql", "mariadb"])
async def test_counters_borrow_a_free_pooled_connection_and_never_wait_for_one(
    backend_name: str, tmp_path: Path
) -> None:
    """With a free connection in the app's pool, no connection is opened per write; with none, the
    write opens its own rather than wait, so a request holding the last one cannot deadlock."""
    from sqlalchemy import event, text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import QueuePool

    engine = create_async_engine(await database_url_for(backend_name, tmp_path), pool_size=1, max_overflow=1)
    opened: list[int] = []
    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))
    backend = SQLRateLimitBackend()
    try:
        await _drop_table(engine)
        async with AsyncSession(engine) as session:
            storage = await backend.storage_for(_Manager(session))
            await storage.hit("warm", now=NOW, window=60, sliding=False)
            before = len(opened)
            for _ in range(5):
                await storage.hit("k", now=NOW, window=60, sliding=False)
            assert (await storage.read(["k"], now=NOW))["k"].count == 5
            assert len(opened) == before  # the pool's idle connection served every write

            # The request holds one of the pool's two connections and something else the other:
            # a write that waited for the pool would wait out its 30 s timeout.
            await session.execute(text("SELECT 1"))
            pool = engine.sync_engine.pool
            assert isinstance(pool, QueuePool)
            async with engine.connect() as other:
                await other.execute(text("SELECT 1"))
                assert pool.checkedout() == 2
                counter = await asyncio.wait_for(storage.hit("k", now=NOW, window=60, sliding=False), timeout=10)
                assert counter.count == 6
                assert pool.checkedout() == 2
    finally:
        await backend.aclose()
        await engine.dispose()


async def test_reserve_counts_every_key_or_none(storage: RateLimitStorage) -> None:
    """A reservation with one key at its limit counts nothing, and says which key refused."""
    limited = Hit("ip", 60, limit=2)
    assert (await storage.reserve([limited, Hit("account", 60, limit=5)], now=NOW)).granted
    assert (await storage.reserve([limited, Hit("account", 60, limit=5)], now=NOW)).granted

    refused = await storage.reserve([Hit("account", 60, limit=5), limited], now=NOW + 1)

    assert not refused.granted
    assert refused.refused == {"ip"}
    assert refused.counters["ip"].count == 2
    assert (await storage.read(["account"], now=NOW + 1))["account"].count == 2


async def test_reserve_refuses_a_blocked_key_and_holds_from_a_count(storage: RateLimitStorage) -> None:
    """From ``hold_from`` on, a granted reservation blocks its key, so the next one is refused until it ends."""
    hit = Hit("account", 300, sliding=True, hold_from=2, hold=30)
    first = await storage.reserve([hit], now=NOW)
    second = await storage.reserve([hit], now=NOW)

    during = await storage.reserve([hit], now=NOW + 29)
    after = await storage.reserve([hit], now=NOW + 30)

    assert (first.granted, first.counters["account"].blocked_until) == (True, 0)
    assert (second.granted, second.counters["account"].blocked_until) == (True, NOW + 30)
    assert (during.granted, during.refused) == (False, frozenset({"account"}))
    assert (after.granted, after.counters["account"].count) == (True, 3)


async def test_reserve_starts_an_expired_window_again(storage: RateLimitStorage) -> None:
    """A key whose window ended counts from 1 in a new window."""
    hit = Hit("k", 60, limit=1)
    await storage.reserve([hit], now=NOW)

    again = await storage.reserve([hit], now=NOW + 60)

    assert again.granted
    assert (again.counters["k"].count, again.counters["k"].reset_at) == (1, NOW + 120)


async def test_release_gives_back_one_attempt_and_forgets_keys(storage: RateLimitStorage) -> None:
    """``release`` takes one count off live keys (never below zero) and deletes the forgotten ones."""
    await storage.reserve([Hit("a", 60), Hit("b", 60)], now=NOW)
    await storage.reserve([Hit("a", 60)], now=NOW)

    await storage.release(["a", "missing"], now=NOW, forget=["b"])
    await storage.release([], now=NOW)

    counters = await storage.read(["a", "b"], now=NOW)
    assert set(counters) == {"a"}
    assert counters["a"].count == 1


async def test_concurrent_reservations_never_exceed_the_limit(storage: RateLimitStorage) -> None:
    """Thirty concurrent reservations against a limit of 20: exactly 20 are granted."""
    results = await asyncio.gather(*(storage.reserve([Hit("k", 60, limit=20)], now=NOW) for _ in range(30)))

    assert sum(result.granted for result in results) == 20
    assert (await storage.read(["k"], now=NOW))["k"].count == 20


async def test_reserve_and_release_on_a_missing_table_are_storage_errors(engine_for: EngineFactory) -> None:
    """Reserve and release wrap database errors in ``RateLimitStorageError``."""
    engine = await engine_for("sqlite")
    storage = await SQLRateLimitBackend(engine, create_table=False).storage_for(object())

    with pytest.raises(RateLimitStorageError):
        await storage.reserve([Hit("k", 60)], now=NOW)
    with pytest.raises(RateLimitStorageError):
        await storage.release(["k"], now=NOW)


async def test_redis_outage_fails_reserve_and_release() -> None:
    """An unreachable Redis gives ``RateLimitStorageError`` on reserve and release."""
    from redis.asyncio import Redis

    client: Redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    backend = RedisRateLimitBackend(client)

    with pytest.raises(RateLimitStorageError):
        await backend.reserve([Hit("k", 60)], now=NOW)
    with pytest.raises(RateLimitStorageError):
        await backend.release(["k"], now=NOW)
    await client.aclose()
