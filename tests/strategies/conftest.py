"""Fixtures for the token-strategy tests: a Redis client and a harness per strategy kind."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from tests.conftest import REDIS_PREFIX, REDIS_URL, SessionMaker, require_service
from tests.strategies.apps import Harness, Kind, harness_for


@pytest.fixture
async def redis_client() -> AsyncIterator[redis.asyncio.Redis]:
    """A Redis client; every key under this run's prefix is deleted afterwards."""
    require_service("redis")
    client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
    yield client
    keys = [key async for key in client.scan_iter(f"{REDIS_PREFIX}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _harness(kind: Kind, db: SessionMaker, client: redis.asyncio.Redis) -> AsyncIterator[Harness]:
    async for harness in harness_for(db, kind, client if kind == "redis" else None):
        yield harness


@pytest.fixture(params=["jwt", "jwt-table", "database", "redis"])
async def any_strategy(
    request: pytest.FixtureRequest, db: SessionMaker, redis_client: redis.asyncio.Redis
) -> AsyncIterator[Harness]:
    """A harness for every strategy kind, on every database."""
    async for harness in _harness(request.param, db, redis_client):
        yield harness


@pytest.fixture(params=["jwt-table", "database", "redis"])
async def revocable(
    request: pytest.FixtureRequest, db: SessionMaker, redis_client: redis.asyncio.Redis
) -> AsyncIterator[Harness]:
    """A harness for every strategy kind that keeps server state, on every database."""
    async for harness in _harness(request.param, db, redis_client):
        yield harness


@pytest.fixture
async def plain_jwt(http_db: SessionMaker) -> AsyncIterator[Harness]:
    """A harness with JWTs and no revocation table."""
    async for harness in harness_for(http_db, "jwt", None):
        yield harness


@pytest.fixture
async def database_tokens(db: SessionMaker, redis_client: redis.asyncio.Redis) -> AsyncIterator[Harness]:
    """A harness with database tokens, on every database."""
    async for harness in _harness("database", db, redis_client):
        yield harness


@pytest.fixture
async def redis_tokens(http_db: SessionMaker, redis_client: redis.asyncio.Redis) -> AsyncIterator[Harness]:
    """A harness with Redis tokens."""
    async for harness in _harness("redis", http_db, redis_client):
        yield harness
