"""Fixtures of the scale tests: a database of their own and three real workers per module."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import REDIS_PREFIX, REDIS_URL, RUN_ID, require_service
from tests.scale.processes import Workers

WORKERS = 3
ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def _admin(statement: str) -> None:
    engine = create_async_engine(ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def create_schema(url: str) -> None:
    """Create the test app's tables (the rate-limit counters included) in the database at ``url``."""
    from tests.models import Base

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A PostgreSQL database of its own on the shared server, with the app's tables; dropped after."""
    require_service("postgresql")
    database = f"{RUN_ID}_{name}"
    asyncio.run(_admin(f"CREATE DATABASE {database}"))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    try:
        asyncio.run(create_schema(url))
        yield url
    finally:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))


def delete_keys(client: redis.Redis, pattern: str) -> None:
    """Delete the keys matching ``pattern`` (one node, or every node of a cluster)."""
    keys = list(client.scan_iter(pattern))
    for key in keys:
        client.delete(key)


@dataclass
class Deployment:
    """Three workers on one database (and Redis in ``redis`` mode)."""

    mode: str
    database_url: str
    workers: Workers

    def engine(self) -> AsyncEngine:
        """An engine on the workers' database, for a test to look at what they wrote."""
        return create_async_engine(self.database_url, poolclass=NullPool)


@contextmanager
def deployment(
    mode: str, tmp: Path, extra_env: Mapping[str, str] | None = None, name: str = ""
) -> Iterator[Deployment]:
    """Start three workers in ``mode`` (``redis`` or ``sql``) on a database of their own.

    ``extra_env`` overrides the workers' settings (another Redis, for instance: its keys are then
    left to whoever runs it); ``name`` tells the database apart from other deployments'.
    """
    prefix = f"{REDIS_PREFIX}scale:{mode}:"
    if mode == "redis":
        require_service("redis")
    with scratch_database(f"scale_{mode}{name}") as url:
        env = {
            "USERKIT_SCALE_MODE": mode,
            "USERKIT_SCALE_DATABASE_URL": url,
            "USERKIT_SCALE_REDIS_URL": REDIS_URL,
            "USERKIT_SCALE_REDIS_PREFIX": prefix,
            **(extra_env or {}),
        }
        workers = Workers("tests.scale.worker_app:app", env, tmp / f"workers-{mode}.log")
        try:
            workers.start(WORKERS)
            yield Deployment(mode, url, workers)
        finally:
            workers.stop()
            if mode == "redis" and not extra_env:
                client = redis.Redis.from_url(REDIS_URL)
                delete_keys(client, f"{prefix}*")
                client.close()


@pytest.fixture(scope="module", params=["redis", "sql"])
def deployed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Three workers on PostgreSQL + Redis (Redis tokens, counters, sessions), then on PostgreSQL alone."""
    with deployment(str(request.param), tmp_path_factory.mktemp("workers")) as deployed:
        yield deployed
