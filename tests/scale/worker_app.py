"""The app the multi-worker tests serve with real uvicorn processes (configured by environment).

``USERKIT_SCALE_MODE=redis``: opaque Redis tokens, Redis rate-limit counters, Redis sessions.
``USERKIT_SCALE_MODE=sql``: database tokens, SQL counters, SQL sessions. Both modes add a ``jwt``
backend whose logouts go to the SQL revocation table. The rate limiter trusts one proxy, so each
test picks its own client address with ``X-Forwarded-For`` and does not share budgets with others.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import redis.asyncio
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from fastapi_userkit.authentication import (
    AuthenticationBackend,
    BearerTransport,
    DatabaseStrategy,
    JWTStrategy,
    RedisStrategy,
    Strategy,
)
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.db.revoked_token import SQLAlchemyRevokedTokenDatabase
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.security import RateLimitSettings, SecuritySettings
from fastapi_userkit.security.ratelimit import RateLimitBackend, RedisRateLimitBackend, SQLRateLimitBackend
from fastapi_userkit.sessions import RedisSessionStore, RefreshSettings, SessionStore
from tests.app_factory import SECRET, SessionDependency, make_app
from tests.models import AccessToken, RefreshToken, RevokedToken, User, UserSession
from tests.readme_examples import run_examples

LIFETIME = 3600
_mode = os.environ["USERKIT_SCALE_MODE"]
_prefix = os.environ.get("USERKIT_SCALE_REDIS_PREFIX", "userkit_scale:")
# Bounded waits (issue 22): a database that is down fails a request within seconds, never hangs it.
_engine = create_async_engine(
    os.environ["USERKIT_SCALE_DATABASE_URL"],
    pool_pre_ping=True,
    pool_timeout=5,
    connect_args={"timeout": 3, "command_timeout": 10},
)
_session_maker = async_sessionmaker(_engine, expire_on_commit=False)


def _redis_client() -> redis.asyncio.Redis | redis.asyncio.RedisCluster:
    # A Redis Cluster (issue 22) is given by its startup nodes; the client finds the others.
    if os.environ.get("USERKIT_SCALE_REDIS_CLUSTER") == "1":
        return redis.asyncio.RedisCluster.from_url(os.environ["USERKIT_SCALE_REDIS_URL"], decode_responses=True)
    return redis.asyncio.from_url(
        os.environ["USERKIT_SCALE_REDIS_URL"], decode_responses=True, socket_timeout=3, socket_connect_timeout=3
    )


_redis = _redis_client() if _mode == "redis" else None
_store: SessionStore = (
    RedisSessionStore(_redis, key_prefix=f"{_prefix}sessions:")
    if _redis is not None
    else SQLAlchemySessionStore(_session_maker, UserSession, RefreshToken)
)
_counters: RateLimitBackend = (
    RedisRateLimitBackend(_redis, prefix=f"{_prefix}rl:") if _redis is not None else SQLRateLimitBackend()
)
_refresh = RefreshSettings(store=_store, secret=SECRET)


def _backends(get_session: SessionDependency) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
    async def get_strategy(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
    ) -> Strategy[User, uuid.UUID]:
        if _redis is not None:
            return RedisStrategy(_redis, LIFETIME, key_prefix=f"{_prefix}token:")
        return DatabaseStrategy(SQLAlchemyAccessTokenDatabase(session, AccessToken), LIFETIME)

    async def get_jwt_strategy(
        session: AsyncSession = Depends(get_session),  # noqa: B008
    ) -> Strategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, LIFETIME, revoked_tokens=SQLAlchemyRevokedTokenDatabase(session, RevokedToken))

    return {
        "bearer": AuthenticationBackend("bearer", BearerTransport("auth/bearer/login"), get_strategy, refresh=_refresh),
        "jwt": AuthenticationBackend("jwt", BearerTransport("auth/jwt/login"), get_jwt_strategy),
    }


_test_app = make_app(
    _session_maker,
    backends_factory=_backends,
    security=SecuritySettings(rate_limit=RateLimitSettings(backend=_counters), trusted_proxy_count=1),
    hook_delay_seconds=float(os.environ.get("USERKIT_SCALE_HOOK_DELAY", "0")),
)
# The README's handler, executed from the README itself: 503 STORE_UNAVAILABLE for a store that is down.
run_examples("store-errors")["add_store_error_handlers"](_test_app.app)


class _HookFile(list[tuple[str, dict[str, Any]]]):
    """The hook log, also written to a file: a test sees which mail hooks ran before the worker stopped."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def append(self, call: tuple[str, dict[str, Any]]) -> None:
        super().append(call)
        with open(self.path, "a") as log:
            log.write(f"{call[0]}\n")


if "USERKIT_SCALE_HOOK_FILE" in os.environ:
    _test_app.hooks.calls = _HookFile(os.environ["USERKIT_SCALE_HOOK_FILE"])
_test_app.app.include_router(_test_app.fastapi_users.get_sessions_router())
app = _test_app.app
