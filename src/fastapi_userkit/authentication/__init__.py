"""Authentication: backends (transport + strategy) and the authenticator."""

from fastapi_userkit.authentication.authenticator import Authenticator
from fastapi_userkit.authentication.backend import AuthenticationBackend
from fastapi_userkit.authentication.strategy import (
    DatabaseStrategy,
    JWTStrategy,
    RedisStrategy,
    Strategy,
)
from fastapi_userkit.authentication.transport import BearerTransport, CookieTransport, Transport

__all__ = [
    "AuthenticationBackend",
    "Authenticator",
    "BearerTransport",
    "CookieTransport",
    "DatabaseStrategy",
    "JWTStrategy",
    "RedisStrategy",
    "Strategy",
    "Transport",
]
