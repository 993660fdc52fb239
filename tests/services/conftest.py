"""Fixtures of the service tests: a Redis client whose keys under this run's prefix go afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from tests.conftest import REDIS_PREFIX, REDIS_URL, require_service


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
