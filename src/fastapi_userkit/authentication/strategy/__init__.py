"""Strategies: what a token is (JWT, database row, Redis key)."""

from fastapi_userkit.authentication.strategy.base import Strategy, StrategyDestroyNotSupportedError
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
    "DatabaseStrategy",
    "JWTStrategy",
    "JWTStrategyDestroyNotSupportedError",
    "RedisStrategy",
    "Strategy",
    "StrategyDestroyNotSupportedError",
]
