"""The one object that turns refresh tokens and sessions on for an authentication backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fastapi_userkit.db._types import now_utc
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.jwt import SecretType, get_secret_value
from fastapi_userkit.sessions.store import SessionStore

__all__ = ["RefreshSettings"]

_MIN_SECRET_BYTES = 32
_MAX_GRACE_SECONDS = 60


@dataclass(frozen=True)
class RefreshSettings:
    """Refresh tokens with rotation, and server-side sessions (``AuthenticationBackend(..., refresh=...)``).

    Example::

        refresh = RefreshSettings(
            store=SQLAlchemySessionStore(async_session_maker, UserSession, RefreshToken),
            secret=SECRET,
        )
        auth_backend = AuthenticationBackend("jwt", bearer_transport, get_jwt_strategy, refresh=refresh)

    Raises:
        ConfigurationError: A secret shorter than 32 bytes, a non-positive lifetime or idle
            timeout, an idle timeout longer than the lifetime, a grace window outside
            0-60 seconds, or an empty cookie name.
    """

    store: SessionStore
    """Where sessions and refresh-token digests live (SQL or Redis; never process memory)."""

    secret: SecretType
    """Key of the HMAC that derives each rotated refresh token and binds sessions to the password.

    At least 32 bytes; keep it as secret as the JWT key."""

    absolute_lifetime_seconds: int = 30 * 24 * 3600
    """A session ends this long after login, however active (ASVS 5.0 7.3.2). Default 30 days."""

    idle_timeout_seconds: int | None = 7 * 24 * 3600
    """A session ends when it was not refreshed for this long (ASVS 5.0 7.3.1); ``None`` for no
    idle limit. Default 7 days. Checked at refresh and on each request with an access token."""

    reuse_grace_seconds: float = 0.0
    """For this long after a rotation, the retired parent still yields the same child token, so
    clients that refresh from several tabs at once do not trip reuse detection. ``0`` (the
    default) turns it off; RFC 9700 section 4.14.2 treats any reuse as a possible theft."""

    cookie_name: str = "fastapiusersrefresh"
    """Name of the refresh-token cookie (cookie transport only)."""

    cookie_path: str | None = None
    """``Path`` of the refresh-token cookie; ``None`` scopes it to the backend's refresh route,
    so the browser sends it nowhere else."""

    clock: Callable[[], datetime] = field(default=now_utc)
    """Returns the current time (UTC); injectable for tests."""

    def __post_init__(self) -> None:
        if len(get_secret_value(self.secret).encode()) < _MIN_SECRET_BYTES:
            raise ConfigurationError(f"RefreshSettings.secret must be at least {_MIN_SECRET_BYTES} bytes long.")
        if self.absolute_lifetime_seconds <= 0:
            raise ConfigurationError("RefreshSettings.absolute_lifetime_seconds must be positive.")
        if (
            self.idle_timeout_seconds is not None
            and not 0 < self.idle_timeout_seconds <= self.absolute_lifetime_seconds
        ):
            raise ConfigurationError(
                "RefreshSettings.idle_timeout_seconds must be positive and at most absolute_lifetime_seconds."
            )
        if not 0 <= self.reuse_grace_seconds <= _MAX_GRACE_SECONDS:
            raise ConfigurationError(f"RefreshSettings.reuse_grace_seconds must be between 0 and {_MAX_GRACE_SECONDS}.")
        if not self.cookie_name:
            raise ConfigurationError("RefreshSettings.cookie_name must not be empty.")
