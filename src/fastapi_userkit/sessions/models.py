"""The records the session stores hand back: plain values, never ORM objects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["RefreshCookie", "RefreshTokenRecord", "SessionRecord"]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One login: a session and the family of refresh tokens rotated from it."""

    id: uuid.UUID
    """Random (version 4) and so unguessable; shown to the user in ``GET /sessions``."""

    user_id: Any
    """The owner."""

    created_at: datetime
    """When the login happened (UTC)."""

    last_used_at: datetime
    """When the session last logged in or refreshed (UTC); the idle timeout counts from here."""

    expires_at: datetime
    """The absolute end of the session, whatever its activity (UTC)."""

    ip_address: str | None
    """The client's address at the last login or refresh."""

    user_agent: str | None
    """The client's ``User-Agent`` at the last login or refresh."""

    credential: str
    """A keyed digest of the password hash at login: a later password change ends the session."""

    aal: int = 1
    """The assurance level of the sign-in that started the session, or of its last
    re-authentication: 1 (one factor) or 2 (two). Sessions stored before issue 18 read as 1."""

    auth_time: int | None = None
    """When that sign-in or re-authentication happened (seconds since the epoch); ``None``
    when unknown (a session stored before issue 18): its access tokens are never fresh."""


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    """What the store knows of one refresh token: only its digest, never the token."""

    digest: str
    """Unpadded base64url SHA-256 of the token."""

    session_id: uuid.UUID
    """The session (token family) the token belongs to."""

    rotated_at: datetime | None
    """When it was exchanged for its child; ``None`` while it is the session's current token."""


@dataclass(frozen=True, slots=True)
class RefreshCookie:
    """Where a cookie transport puts the refresh token: its own HttpOnly cookie, path-scoped."""

    name: str
    """The cookie's name."""

    path: str
    """The cookie's ``Path``: the refresh route, so the browser sends it nowhere else."""

    max_age: int
    """Seconds until the session's absolute end."""
