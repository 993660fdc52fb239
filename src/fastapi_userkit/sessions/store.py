"""What the session service needs from storage (SQL in :mod:`fastapi_userkit.db.sessions`, or Redis)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from fastapi_userkit.sessions.models import RefreshTokenRecord, SessionRecord

__all__ = ["SessionStore"]


class SessionStore(Protocol):
    """Sessions and the digests of their refresh tokens.

    Every method runs in its own short transaction and sees what other workers committed
    before it started: nothing is cached in process memory, so any number of workers can
    share a store.
    """

    async def create(self, session: SessionRecord, refresh_digest: str) -> None:
        """Store a new session and the digest of its first refresh token."""
        ...  # pragma: no cover - protocol

    async def get(self, session_id: uuid.UUID) -> SessionRecord | None:
        """Return the session, or ``None`` if it does not exist (one lookup by primary key)."""
        ...  # pragma: no cover - protocol

    async def get_refresh_token(self, refresh_digest: str) -> RefreshTokenRecord | None:
        """Return what is known of the refresh token with this digest."""
        ...  # pragma: no cover - protocol

    async def rotate(
        self,
        session_id: uuid.UUID,
        parent_digest: str,
        child_digest: str,
        *,
        now: datetime,
        ip_address: str | None,
        user_agent: str | None,
    ) -> bool:
        """Atomically retire ``parent_digest`` and make ``child_digest`` the session's token.

        Succeeds only if the parent is still the session's current token, so of two
        concurrent rotations of one parent exactly one wins. The session's ``last_used_at``,
        IP address and user agent are updated in the same step.

        Returns:
            Whether this call rotated the token.
        """
        ...  # pragma: no cover - protocol

    async def set_assurance(self, session_id: uuid.UUID, aal: int, auth_time: int | None) -> bool:
        """Record a re-authentication: the session's ``aal`` and ``auth_time`` become these.

        Returns:
            Whether the session exists.
        """
        ...  # pragma: no cover - protocol

    async def list_for_user(self, user_id: Any) -> list[SessionRecord]:
        """Return the user's sessions, newest first (expired ones included)."""
        ...  # pragma: no cover - protocol

    async def delete(self, session_id: uuid.UUID) -> bool:
        """Delete the session and its refresh tokens; return whether it existed."""
        ...  # pragma: no cover - protocol

    async def delete_for_user(self, user_id: Any, *, keep: uuid.UUID | None = None) -> int:
        """Delete every session of the user but ``keep``, with their refresh tokens; return how many."""
        ...  # pragma: no cover - protocol
