"""An app served by real uvicorn workers in the multi-process test (configured by environment)."""

from __future__ import annotations

import os

import redis.asyncio
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from fastapi_userkit.security import RateLimitSettings, RedisRateLimitBackend, SecuritySettings
from tests.app_factory import make_app
from tests.strategies.apps import Kind, backends_factory

_engine = create_async_engine(os.environ["USERKIT_E2E_DATABASE_URL"])
_kind: Kind = "redis" if os.environ["USERKIT_E2E_STRATEGY"] == "redis" else "database"
_redis = redis.asyncio.from_url(os.environ["USERKIT_E2E_REDIS_URL"], decode_responses=True)

# Rate-limit counters in the database (default) or, with USERKIT_E2E_RATE_LIMIT=redis, in Redis.
_security = (
    SecuritySettings(
        rate_limit=RateLimitSettings(
            backend=RedisRateLimitBackend(_redis, prefix=os.environ["USERKIT_E2E_REDIS_PREFIX"] + "rl:")
        )
    )
    if os.environ.get("USERKIT_E2E_RATE_LIMIT") == "redis"
    else None
)

app = make_app(
    async_sessionmaker(_engine, expire_on_commit=False),
    backends_factory=backends_factory(
        _kind, _redis if _kind == "redis" else None, os.environ["USERKIT_E2E_REDIS_PREFIX"]
    ),
    security=_security,
).app
