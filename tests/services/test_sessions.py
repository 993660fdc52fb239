"""Ending a user's sessions (``_services/sessions.py``): targets offered by the authentication side.

The manager never reads the authenticator's record of a request; the authenticator offers the
request's strategies and stores, and any manager given that request ends them, including one the
authenticator never saw. Outside a request, the manager's own ``session_strategies`` and
``session_stores`` are ended, and the request's are absent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.requests import HTTPConnection

from fastapi_userkit._contracts import StrategyDestroyNotSupportedError
from fastapi_userkit._services import sessions
from fastapi_userkit._services.sessions import SessionTargets, SessionTermination
from fastapi_userkit.authentication import JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.schemas import BaseUserUpdate
from tests.app_factory import SECRET, HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import REDIS_PREFIX, EngineFactory, reset_schema
from tests.models import Base, User
from tests.strategies.apps import Harness, harness_for
from tests.test_architecture import PACKAGE_ROOT, import_graph

# The manager and the services under it, as opposed to the sign-in service (which signs in
# through a backend, and so belongs with authentication).
_FACADE_MODULES = (
    "fastapi_userkit.manager",
    "fastapi_userkit._manager_hooks",
    "fastapi_userkit._manager_sessions",
    "fastapi_userkit._oauth_accounts",
    "fastapi_userkit._services.passwords",
    "fastapi_userkit._services.sessions",
    "fastapi_userkit._services.tokens",
    "fastapi_userkit._services.updates",
)


@dataclass(eq=False)
class RecordingStrategy:
    """A strategy that can end every token of a user, and counts the calls (no storage)."""

    ended: list[Any] = field(default_factory=list)
    supported: bool = True

    async def destroy_all_tokens(self, user: Any) -> None:
        """Record the call, or refuse like a JWT strategy without a revocation table."""
        if not self.supported:
            raise StrategyDestroyNotSupportedError()
        self.ended.append(user)


@dataclass(eq=False)
class RecordingStore:
    """A refresh-session store seen through ``delete_for_user`` only (no storage)."""

    ended: list[Any] = field(default_factory=list)

    async def delete_for_user(self, user_id: Any, *, keep: uuid.UUID | None = None) -> int:
        """Record the user."""
        self.ended.append(user_id)
        return 0


def _connection() -> HTTPConnection:
    return HTTPConnection({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})


def test_the_manager_and_its_services_never_reach_the_authentication_package() -> None:
    """No module of the manager's facade imports the authentication package, even through other modules."""
    graph = import_graph(PACKAGE_ROOT)
    reached: set[str] = set()
    pending = list(_FACADE_MODULES)
    while pending:
        module = pending.pop()
        for target in graph[module]:
            if target not in reached:
                reached.add(target)
                pending.append(target)

    assert all(module in graph for module in _FACADE_MODULES)
    assert sorted(module for module in reached if module.startswith("fastapi_userkit.authentication")) == []


def test_no_request_and_an_unauthenticated_request_offer_no_targets() -> None:
    """Outside a request, or for a request nobody authenticated, there is nothing of the request to end."""
    assert sessions.request_session_targets(None) == SessionTargets()
    assert sessions.request_session_targets(_connection()) == SessionTargets()


def test_the_offered_provider_gives_the_request_targets() -> None:
    """What the authentication side offered for a request is what the services see for it."""
    connection = _connection()
    strategy, store = RecordingStrategy(), RecordingStore()
    seen: list[HTTPConnection] = []

    def provider(offered_for: HTTPConnection) -> SessionTargets:
        seen.append(offered_for)
        return SessionTargets((strategy,), (store,))

    sessions.offer_session_targets(connection, provider)

    assert sessions.request_session_targets(connection) == SessionTargets((strategy,), (store,))
    assert seen == [connection]


def test_termination_targets_are_the_request_then_the_configured_each_once() -> None:
    """The request's strategies and stores come first, then the manager's, a shared object only once."""
    shared, own, request_only = RecordingStrategy(), RecordingStrategy(), RecordingStrategy()
    store, own_store = RecordingStore(), RecordingStore()
    termination = SessionTermination(
        object(),
        (own, shared),
        (store, own_store),
        targets_of=lambda _request: SessionTargets((request_only, shared, request_only), (store,)),
    )

    targets = termination.targets(None)

    assert targets.strategies == (request_only, shared, own)
    assert targets.stores == (store, own_store)


async def test_destroy_all_tokens_skips_what_cannot_and_calls_each_strategy_once() -> None:
    """A strategy without the capability is skipped, one refusing is passed over, a repeated one ends once."""
    able, unable = RecordingStrategy(), RecordingStrategy(supported=False)

    await sessions.destroy_all_tokens("gawain", [object(), unable, able, able, JWTStrategy(SECRET, 60)])

    assert able.ended == ["gawain"]
    assert unable.ended == []


async def test_refresh_sessions_end_once_per_store() -> None:
    """Two backends sharing a store delete the user's sessions in it once."""
    store, other = RecordingStore(), RecordingStore()

    await sessions.end_refresh_sessions("id-1", [store, other, store])

    assert (store.ended, other.ended) == (["id-1"], ["id-1"])


@dataclass(eq=False)
class RecordingSessionsDatabase:
    """A user storage that declares its session tables (``UserSessionsDatabase``), recording the calls."""

    ended: list[Any] = field(default_factory=list)

    async def delete_user_sessions(self, user_id: Any) -> None:
        """Record the user."""
        self.ended.append(user_id)


async def test_only_a_storage_declaring_its_session_tables_is_asked_for_rows() -> None:
    """``end_stored`` asks a user database that declares its session tables, and passes over one that does not."""
    declaring = RecordingSessionsDatabase()

    await SessionTermination(declaring).end_stored("id-1")
    await SessionTermination(object()).end_stored("id-2")

    assert declaring.ended == ["id-1"]


# -- through HTTP: app code with a manager of its own ------------------------------------------


@pytest.fixture
async def redis_harness(engine_for: EngineFactory, redis_client: redis.asyncio.Redis) -> AsyncIterator[Harness]:
    """The documented app with Redis tokens over SQLite, plus two app routes that deactivate a user."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, Base.metadata)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    manager_class = make_user_manager_class(HookLog())
    async for harness in harness_for(maker, "redis", redis_client):
        current_user = harness.test_app.fastapi_users.current_user(active=True)

        async def set_active(user_id: str, active: bool, request: Request | None) -> None:
            # A manager the authenticator never saw, as app code may build one.
            async with maker() as session:
                manager = manager_class(SQLAlchemyUserDatabase(session, User), fast_password_helper())
                user = await manager.get(uuid.UUID(user_id))
                await manager.update(BaseUserUpdate(is_active=active), user, request=request)

        @harness.test_app.app.post("/app/deactivate/{user_id}")
        async def deactivate(
            user_id: str,
            request: Request,
            _admin: User = Depends(current_user),  # noqa: B008 - resolved at run time, the route being local
        ) -> dict[str, str]:
            await set_active(user_id, False, request)
            return {}

        @harness.test_app.app.post("/app/deactivate-offline/{user_id}")
        async def deactivate_offline(user_id: str, _admin: User = Depends(current_user)) -> dict[str, str]:  # noqa: B008
            await set_active(user_id, False, None)
            return {}

        @harness.test_app.app.post("/app/reactivate/{user_id}")
        async def reactivate(user_id: str, _admin: User = Depends(current_user)) -> dict[str, str]:  # noqa: B008
            await set_active(user_id, True, None)
            return {}

        yield harness


async def _deactivate_then_reactivate(harness: Harness, route: str) -> tuple[str, int]:
    """Log the victim in, run ``route`` then reactivate; the victim's id and their earlier token's status."""
    user_id = await harness.register("lucan@camelot.bt")
    victim = await harness.login("bearer", "lucan@camelot.bt")
    await harness.register("arthur@camelot.bt")
    admin = await harness.login("bearer", "arthur@camelot.bt")

    for path in (f"/app/{route}/{user_id}", f"/app/reactivate/{user_id}"):
        response = await harness.client.post(path, headers=admin.headers())
        assert response.status_code == 200, response.text

    return user_id, await harness.me_status(victim)


async def test_app_code_with_the_request_ends_the_requests_redis_tokens(
    redis_harness: Harness, redis_client: redis.asyncio.Redis
) -> None:
    """update(..., request=request) from app code, on its own manager, ends the request's Redis tokens for good."""
    user_id, status = await _deactivate_then_reactivate(redis_harness, "deactivate")

    assert status == 401
    assert [key async for key in redis_client.scan_iter(f"{REDIS_PREFIX}token:*{user_id}")] == []


async def test_app_code_without_the_request_cannot_reach_the_requests_tokens(
    redis_harness: Harness, redis_client: redis.asyncio.Redis
) -> None:
    """The same update without the request (and no session_strategies) leaves the Redis token to revive."""
    user_id, status = await _deactivate_then_reactivate(redis_harness, "deactivate-offline")

    assert status == 200
    assert len([key async for key in redis_client.scan_iter(f"{REDIS_PREFIX}token:*{user_id}")]) == 1
