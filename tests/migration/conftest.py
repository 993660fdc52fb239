"""Fixtures for the migration tests: the strategy tests' Redis client."""

from tests.strategies.conftest import redis_client

__all__ = ["redis_client"]
