"""Concurrent refreshes of one token (real concurrency: pooled engines, ``asyncio.gather``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from fastapi_userkit.sessions import SessionRecord, SessionStore
from fastapi_userkit.sessions.tokens import digest
from tests.conftest import SessionMaker, database_url_for, reset_schema
from tests.models import Base, User
from tests.sessions.conftest import RedisFactory
from tests.sessions.harness import Clock, RefreshHarness, make_store, refresh_app, refresh_harness

CONCURRENCY = 6


@dataclass
class PooledCase:
    """A pooled engine's session maker and a store over it."""

    session_maker: SessionMaker
    store: SessionStore
    redis_client: redis.asyncio.Redis | None


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "redis"])
async def pooled(
    request: pytest.FixtureRequest, tmp_path: Path, redis_factory: RedisFactory
) -> AsyncIterator[PooledCase]:
    """A connection pool per database, so concurrent requests really run on separate connections."""
    backend = "sqlite" if request.param == "redis" else request.param
    client = await redis_factory() if request.param == "redis" else None
    engine: AsyncEngine = create_async_engine(
        await database_url_for(backend, tmp_path), pool_size=CONCURRENCY + 2, max_overflow=4
    )
    await reset_schema(engine, Base.metadata)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    yield PooledCase(maker, make_store("redis" if client else "sql", maker, client), client)
    await engine.dispose()


async def _session_row(pooled: PooledCase) -> SessionRecord:
    clock = Clock()
    async with pooled.session_maker() as db:
        user = User(email="arthur@camelot.bt", hashed_password="x")
        db.add(user)
        await db.commit()
        user_id = user.id
    record = SessionRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        created_at=clock.now,
        last_used_at=clock.now,
        expires_at=clock.now + timedelta(hours=1),
        ip_address=None,
        user_agent=None,
        credential="c",
    )
    await pooled.store.create(record, digest("parent"))
    return record


async def test_store_rotation_has_exactly_one_winner(pooled: PooledCase) -> None:
    """Of concurrent rotations of one parent, exactly one succeeds; the child becomes current."""
    session = await _session_row(pooled)
    now = Clock().now

    results = await asyncio.gather(
        *(
            pooled.store.rotate(
                session.id, digest("parent"), digest("child"), now=now, ip_address=None, user_agent=None
            )
            for _ in range(CONCURRENCY)
        )
    )

    parent = await pooled.store.get_refresh_token(digest("parent"))
    child = await pooled.store.get_refresh_token(digest("child"))
    assert results.count(True) == 1
    assert parent is not None
    assert parent.rotated_at == now
    assert child is not None
    assert child.rotated_at is None


async def _concurrent_harness(pooled: PooledCase, grace: float) -> AsyncIterator[RefreshHarness]:
    clock = Clock()
    test_app = refresh_app(pooled.session_maker, pooled.store, clock=clock, grace=grace)
    async for harness in refresh_harness(test_app, pooled.store, clock):
        yield harness


async def test_concurrent_refresh_outside_grace_window(pooled: PooledCase) -> None:
    """Without a grace window, one concurrent refresh wins, the others are reuse: the family ends."""
    async for harness in _concurrent_harness(pooled, grace=0):
        await harness.register("arthur@camelot.bt")
        pair = await harness.login_pair("bearer", "arthur@camelot.bt")

        responses = await asyncio.gather(*(harness.refresh("bearer", pair.refresh) for _ in range(CONCURRENCY)))

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [401] * (CONCURRENCY - 1)
        winner = harness.pair_from("bearer", next(r for r in responses if r.status_code == 200))
        assert await harness.refresh_status(winner) == 401
        assert await harness.me_status(winner.session()) == 401


async def test_concurrent_refresh_inside_grace_window(pooled: PooledCase) -> None:
    """Inside the grace window, concurrent refreshes of one parent all get the same child, which works."""
    async for harness in _concurrent_harness(pooled, grace=5):
        await harness.register("arthur@camelot.bt")
        pair = await harness.login_pair("bearer", "arthur@camelot.bt")

        responses = await asyncio.gather(*(harness.refresh("bearer", pair.refresh) for _ in range(CONCURRENCY)))

        assert [response.status_code for response in responses] == [200] * CONCURRENCY
        children = {response.json()["refresh_token"] for response in responses}
        assert len(children) == 1
        child = harness.pair_from("bearer", responses[0])
        assert await harness.me_status(child.session()) == 200
        assert await harness.refresh_status(child) == 200


async def test_replay_after_grace_window_is_reuse(pooled: PooledCase) -> None:
    """Once the grace window has passed, the parent is reuse and the family ends."""
    async for harness in _concurrent_harness(pooled, grace=5):
        await harness.register("arthur@camelot.bt")
        parent = await harness.login_pair("bearer", "arthur@camelot.bt")
        child = await harness.rotate(parent)
        harness.clock.advance(6)

        assert await harness.refresh_status(parent) == 401
        assert await harness.refresh_status(child) == 401


async def test_grace_window_covers_only_the_immediate_parent(pooled: PooledCase) -> None:
    """Inside the window, a grandparent of the current token is still reuse."""
    async for harness in _concurrent_harness(pooled, grace=5):
        await harness.register("arthur@camelot.bt")
        grandparent = await harness.login_pair("bearer", "arthur@camelot.bt")
        parent = await harness.rotate(grandparent)
        current = await harness.rotate(parent)

        assert await harness.refresh_status(grandparent) == 401
        assert await harness.me_status(current.session()) == 401
