"""Protections that are on by default: password policy, security events (and rate limiting, CSRF).

Each protection lives in its own module; this package re-exports the names an application uses.
The README's "Security" section lists every protection, its default, how to tune or turn it
off, and the OWASP ASVS / NIST SP 800-63B requirement it answers.
"""

from fastapi_userkit.security.csrf import CSRF_CROSS_SITE_REQUEST, CSRF_TOKEN_INVALID, CSRFProtection
from fastapi_userkit.security.events import (
    SECURITY_LOGGER_NAME,
    SecurityEvent,
    SecurityEventDatabase,
    SecurityEventOutcome,
    SecurityEventType,
    log_security_event,
)
from fastapi_userkit.security.password_policy import (
    DEFAULT_PASSWORD_POLICY,
    PasswordPolicy,
    load_common_passwords,
    normalize_password,
)
from fastapi_userkit.security.ratelimit import (
    TOO_MANY_REQUESTS,
    RateLimitBackend,
    RateLimitStorageError,
    RedisRateLimitBackend,
    SQLRateLimitBackend,
    client_ip,
    rate_limit_table,
)
from fastapi_userkit.security.settings import (
    CSRFSettings,
    FlowLimits,
    Limit,
    LoginThrottle,
    RateLimitSettings,
    SecuritySettings,
)

__all__ = [
    "CSRF_CROSS_SITE_REQUEST",
    "CSRF_TOKEN_INVALID",
    "DEFAULT_PASSWORD_POLICY",
    "SECURITY_LOGGER_NAME",
    "TOO_MANY_REQUESTS",
    "CSRFProtection",
    "CSRFSettings",
    "FlowLimits",
    "Limit",
    "LoginThrottle",
    "PasswordPolicy",
    "RateLimitBackend",
    "RateLimitSettings",
    "RateLimitStorageError",
    "RedisRateLimitBackend",
    "SQLRateLimitBackend",
    "SecurityEvent",
    "SecurityEventDatabase",
    "SecurityEventOutcome",
    "SecurityEventType",
    "SecuritySettings",
    "client_ip",
    "load_common_passwords",
    "log_security_event",
    "normalize_password",
    "rate_limit_table",
]
