"""Strategies: what a token is (JWT, database row, Redis key)."""

from fastapi_userkit.authentication.strategy.base import (
    BackendBoundStrategy,
    RevokeAllStrategy,
    Strategy,
    StrategyDestroyNotSupportedError,
)
from fastapi_userkit.authentication.strategy.db import (
    AP,
    AccessTokenDatabase,
    AccessTokenProtocol,
    DatabaseStrategy,
)
from fastapi_userkit.authentication.strategy.jwt import JWTStrategy, JWTStrategyDestroyNotSupportedError
from fastapi_userkit.authentication.strategy.redis import RedisStrategy

__all__ = [
    "AP",
    "AccessTokenDatabase",
    "AccessTokenProtocol",
    "BackendBoundStrategy",
    "DatabaseStrategy",
    "JWTStrategy",
    "JWTStrategyDestroyNotSupportedError",
    "RedisStrategy",
    "RevokeAllStrategy",
    "Strategy",
    "StrategyDestroyNotSupportedError",
]
