"""Fixtures of the HTTP contract tests: the documented app on SQLite and PostgreSQL, and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import inspect, text

from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker
from tests.router.helpers import client_for

RATE_LIMIT_TABLE = "userkit_rate_limit"


@pytest.fixture(autouse=True)
async def _fresh_rate_limit_counters(http_db: SessionMaker) -> None:
    """Start every test with no rate-limit counters.

    The default limiter keeps its counters in a table of the app's database, outside the test
    schema that ``http_db`` recreates; on PostgreSQL the database lives for the whole run, so
    without this the requests of earlier tests (all from one client IP) would count here.
    """
    async with http_db() as session:
        connection = await session.connection()
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        if RATE_LIMIT_TABLE in names:
            await session.execute(text(f"DELETE FROM {RATE_LIMIT_TABLE}"))  # noqa: S608 - a constant name
            await session.commit()


@pytest.fixture
def test_app(http_db: SessionMaker) -> TestApp:
    """The documented app (``make_app`` defaults) on a fresh schema."""
    return make_app(http_db)


@pytest.fixture
async def client(test_app: TestApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``test_app``."""
    async with client_for(test_app.app) as client:
        yield client
