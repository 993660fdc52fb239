"""Rate limiting and lockout of the authentication flows (ASVS 5.0 6.1.1, 6.3.1; NIST SP 800-63B 5.2.2).

Configured by :class:`~fastapi_userkit.security.RateLimitSettings`; counters live in the SQL
database (default) or Redis.
"""

from fastapi_userkit.security.ratelimit.backend import (
    Counter,
    Hit,
    RateLimitBackend,
    RateLimitStorage,
    RateLimitStorageError,
    Reservation,
)
from fastapi_userkit.security.ratelimit.client_ip import client_ip, rate_limit_bucket
from fastapi_userkit.security.ratelimit.limiter import (
    TOO_MANY_REQUESTS,
    Attempt,
    FlowGuard,
    RateLimiter,
    RateLimitFlow,
    rate_limited,
)
from fastapi_userkit.security.ratelimit.redis import RedisRateLimitBackend
from fastapi_userkit.security.ratelimit.sql import DEFAULT_TABLE_NAME, SQLRateLimitBackend, rate_limit_table

__all__ = [
    "DEFAULT_TABLE_NAME",
    "TOO_MANY_REQUESTS",
    "Attempt",
    "Counter",
    "FlowGuard",
    "Hit",
    "RateLimitBackend",
    "RateLimitFlow",
    "RateLimitStorage",
    "RateLimitStorageError",
    "RateLimiter",
    "RedisRateLimitBackend",
    "Reservation",
    "SQLRateLimitBackend",
    "client_ip",
    "rate_limit_bucket",
    "rate_limit_table",
    "rate_limited",
]
