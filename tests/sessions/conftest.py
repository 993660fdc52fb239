"""Fixtures of the refresh and session tests: session stores on every database and on Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio
from sqlalchemy.ext.asyncio import async_sessionmaker

from fastapi_userkit.sessions import SessionStore
from tests.conftest import REDIS_PREFIX, REDIS_URL, EngineFactory, SessionMaker, require_service, reset_schema
from tests.models import Base
from tests.sessions.harness import Clock, RefreshHarness, StoreKind, make_store, refresh_app, refresh_harness

RedisFactory = Callable[[], Awaitable[redis.asyncio.Redis]]


@pytest.fixture
async def redis_factory() -> AsyncIterator[RedisFactory]:
    """Connects to Redis on first use (skipping without it); deletes this run's keys afterwards."""
    clients: list[redis.asyncio.Redis] = []

    async def connect() -> redis.asyncio.Redis:
        require_service("redis")
        client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        keys = [key async for key in client.scan_iter(f"{REDIS_PREFIX}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@dataclass
class StoreCase:
    """Users in a database, sessions in a store."""

    session_maker: SessionMaker
    store: SessionStore
    store_kind: StoreKind
    redis_client: redis.asyncio.Redis | None


async def _session_maker(engine_for: EngineFactory, backend: str) -> SessionMaker:
    engine = await engine_for(backend)
    await reset_schema(engine, Base.metadata)
    return async_sessionmaker(engine, expire_on_commit=False)


async def _case(place: str, engine_for: EngineFactory, redis_factory: RedisFactory) -> StoreCase:
    if place == "redis":
        client = await redis_factory()
        maker = await _session_maker(engine_for, "sqlite")
        return StoreCase(maker, make_store("redis", maker, client), "redis", client)
    maker = await _session_maker(engine_for, place)
    return StoreCase(maker, make_store("sql", maker, None), "sql", None)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "redis"])
async def store_case(
    request: pytest.FixtureRequest, engine_for: EngineFactory, redis_factory: RedisFactory
) -> StoreCase:
    """SQL sessions on SQLite, PostgreSQL and MariaDB; Redis sessions (users on SQLite)."""
    return await _case(request.param, engine_for, redis_factory)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def sql_case(request: pytest.FixtureRequest, engine_for: EngineFactory, redis_factory: RedisFactory) -> StoreCase:
    """SQL sessions on SQLite, PostgreSQL and MariaDB."""
    return await _case(request.param, engine_for, redis_factory)


@pytest.fixture
async def redis_case(engine_for: EngineFactory, redis_factory: RedisFactory) -> StoreCase:
    """Redis sessions (users on SQLite)."""
    return await _case("redis", engine_for, redis_factory)


@pytest.fixture
def clock() -> Clock:
    """The session rules' clock."""
    return Clock()


@pytest.fixture
async def harness(store_case: StoreCase, clock: Clock) -> AsyncIterator[RefreshHarness]:
    """JWT access tokens with refresh on, sessions in every store."""
    test_app = refresh_app(store_case.session_maker, store_case.store, clock=clock)
    async for harness in refresh_harness(test_app, store_case.store, clock):
        yield harness
