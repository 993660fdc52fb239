"""Shared fixtures: real databases (SQLite, PostgreSQL, MariaDB) and Redis, never mocks.

Services are found at the addresses of DESIGN.md. A missing service skips its tests with the
reason, unless ``USERKIT_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which makes it a failure.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

# Each pytest run works in databases of its own (created on first use, dropped at the end), so
# two runs on one machine, or a run beside the demo, never touch each other's tables.
RUN_ID = f"userkit_{os.getpid()}_{secrets.token_hex(3)}"
POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MARIADB_ADMIN_URL = "mysql+asyncmy://root@127.0.0.1:3306/test?charset=utf8mb4"
POSTGRES_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{RUN_ID}"
MARIADB_URL = f"mysql+asyncmy://root@127.0.0.1:3306/{RUN_ID}?charset=utf8mb4"
REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_PREFIX = f"{RUN_ID}:"
_created_databases: set[str] = set()

_PORTS = {"postgresql": 5432, "mariadb": 3306, "redis": 6379}


def _reachable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def require_service(name: str) -> None:
    """Skip (or fail, when services are required) if the service ``name`` is down."""
    if _reachable(_PORTS[name]):
        return
    missing(f"{name} is not reachable on 127.0.0.1:{_PORTS[name]}")


def missing(message: str) -> NoReturn:
    """Skip for a missing service or server binary, or fail when services are required (CI)."""
    if os.environ.get("USERKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and USERKIT_REQUIRE_SERVICES=1")
    pytest.skip(message)


async def _admin(backend: str, statement: str) -> None:
    url = POSTGRES_ADMIN_URL if backend == "postgresql" else MARIADB_ADMIN_URL
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def database_url_for(backend: str, tmp_path: Path) -> str:
    """The URL of the test database of ``backend`` (a fresh SQLite file per test)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    require_service(backend)
    if backend not in _created_databases:
        await _admin(backend, f"CREATE DATABASE {RUN_ID}")
        _created_databases.add(backend)
    return POSTGRES_URL if backend == "postgresql" else MARIADB_URL


@pytest.fixture(scope="session", autouse=True)
def _drop_run_databases() -> Iterator[None]:
    """Drop this run's databases when the session ends."""
    yield
    for backend in sorted(_created_databases):
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        asyncio.run(_admin(backend, f"DROP DATABASE IF EXISTS {RUN_ID}{force}"))


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_backend(request: pytest.FixtureRequest) -> str:
    """Every supported database."""
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgresql"])
def http_backend(request: pytest.FixtureRequest) -> str:
    """The databases HTTP contract tests run on."""
    return str(request.param)


EngineFactory = Callable[[str], Awaitable[AsyncEngine]]


def make_engine(url: str) -> AsyncEngine:
    """An engine for tests; NullPool so no connection outlives its test's event loop."""
    return create_async_engine(url, poolclass=NullPool)


_schemas: dict[str, MetaData] = {}
"""Which test metadata each server database of this run currently holds."""


async def reset_schema(engine: AsyncEngine, metadata: MetaData) -> None:
    """Drop and recreate ``metadata``'s tables (a previous run may have left them).

    The library's own rate-limit counters go too (their table is in the user table's metadata):
    an earlier test's failures must not limit this one.
    """
    from tests.models import Base, IntBase

    key = engine.url.render_as_string(hide_password=False)
    if _schemas.get(key) is metadata:
        # Same server database, same tables as the previous test: emptying them is an order of
        # magnitude faster than DDL on PostgreSQL and MariaDB. Any failure (a test dropped or
        # altered a table) falls back to the full rebuild below.
        try:
            async with engine.begin() as connection:
                for table in reversed(metadata.sorted_tables):
                    await connection.execute(table.delete())
            return
        except Exception:  # noqa: BLE001 - any doubt about the schema means: rebuild it
            _schemas.pop(key, None)

    async with engine.begin() as connection:
        # The UUID and integer test apps share table names ("user", ...) in one database, and
        # tables of the other app may point at them: drop both apps' tables before creating.
        for known in (Base.metadata, IntBase.metadata, metadata):
            await connection.run_sync(known.drop_all)
        await connection.run_sync(metadata.create_all)
    if engine.dialect.name != "sqlite":  # SQLite files are new for every test
        _schemas[key] = metadata


@pytest.fixture
async def engine_for(tmp_path: Path) -> AsyncIterator[EngineFactory]:
    """Build engines for backends by name; disposes them at teardown."""
    engines: list[AsyncEngine] = []

    async def build(backend: str) -> AsyncEngine:
        engine = make_engine(await database_url_for(backend, tmp_path))
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        await engine.dispose()


SessionMaker = async_sessionmaker[AsyncSession]


async def _session_maker(engine: AsyncEngine, metadata: MetaData) -> SessionMaker:
    await reset_schema(engine, metadata)
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
async def db(any_backend: str, engine_for: EngineFactory) -> SessionMaker:
    """Sessions on a fresh schema of the UUID test app, on every database."""
    from tests.models import Base

    return await _session_maker(await engine_for(any_backend), Base.metadata)


@pytest.fixture
async def int_db(any_backend: str, engine_for: EngineFactory) -> SessionMaker:
    """Sessions on a fresh schema of the integer-id test app, on every database."""
    from tests.models import IntBase

    return await _session_maker(await engine_for(any_backend), IntBase.metadata)


@pytest.fixture
async def http_db(http_backend: str, engine_for: EngineFactory) -> SessionMaker:
    """Sessions on a fresh schema of the UUID test app, on SQLite and PostgreSQL."""
    from tests.models import Base

    return await _session_maker(await engine_for(http_backend), Base.metadata)


def pytest_configure(config: pytest.Config) -> None:
    """``USERKIT_FAST_PATHS=0`` runs the suite with the fast paths off (``make pytest-no-fastpaths``)."""
    from fastapi_userkit.db import set_fast_paths

    set_fast_paths(os.environ.get("USERKIT_FAST_PATHS", "1") != "0")
