"""Refresh tokens with rotation and reuse detection, and server-side sessions (new in fastapi-userkit).

Off by default: an :class:`~fastapi_userkit.authentication.AuthenticationBackend` built with
``refresh=RefreshSettings(...)`` turns them on for that backend. Storage is SQL
(:mod:`fastapi_userkit.db.sessions`) or Redis (:class:`RedisSessionStore`), never process memory.
"""

from fastapi_userkit.sessions.errors import InvalidRefreshToken, RefreshTokenReused
from fastapi_userkit.sessions.models import RefreshCookie, RefreshTokenRecord, SessionRecord
from fastapi_userkit.sessions.redis import RedisSessionStore
from fastapi_userkit.sessions.service import Rotation, SessionService
from fastapi_userkit.sessions.settings import RefreshSettings
from fastapi_userkit.sessions.store import SessionStore
from fastapi_userkit.sessions.tokens import REFRESH_TOKEN_PREFIX

__all__ = [
    "REFRESH_TOKEN_PREFIX",
    "InvalidRefreshToken",
    "RedisSessionStore",
    "RefreshCookie",
    "RefreshSettings",
    "RefreshTokenRecord",
    "RefreshTokenReused",
    "Rotation",
    "SessionRecord",
    "SessionService",
    "SessionStore",
]
