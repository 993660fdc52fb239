"""Fixtures of the OAuth tests: the fake provider with three accounts, and the app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.oauth.flows import https_client, make_oauth_app
from tests.oauth_provider import FakeProvider


@pytest.fixture
def provider() -> FakeProvider:
    """A provider where ``alice`` and ``bob`` have e-mail addresses and ``anon`` has none."""
    provider = FakeProvider()
    provider.add_account("alice", account_id="1001", email="alice@example.com")
    provider.add_account("bob", account_id="1002", email="bob@example.com")
    provider.add_account("anon", account_id="1003", email=None)
    return provider


@pytest.fixture
def test_app(http_db: SessionMaker, provider: FakeProvider) -> TestApp:
    """The documented app with the fake provider's routers, on SQLite and PostgreSQL."""
    return make_oauth_app(http_db, provider)


@pytest.fixture
async def client(test_app: TestApp) -> AsyncIterator[httpx.AsyncClient]:
    """An https client of ``test_app``."""
    async with https_client(test_app.app) as client:
        yield client
