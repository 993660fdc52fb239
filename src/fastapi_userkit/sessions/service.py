"""Session life cycle: start at login, rotate refresh tokens, check access, end.

The rules (RFC 9700 section 4.14.2, OWASP ASVS 5.0 V7):

* each login starts a session, the root of one refresh-token family;
* a refresh retires the presented token and hands out its child (rotation); the parent
  stops working at once;
* presenting a retired token again ends its whole family (that session and every access
  token bound to it) and nothing else. Within ``reuse_grace_seconds`` of the rotation, the
  immediate parent of the current token yields that same current token instead;
* a session ends ``absolute_lifetime_seconds`` after login, or ``idle_timeout_seconds``
  after its last refresh, whichever comes first; a password change, deactivation or
  deletion of its user ends it as well.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import HTTPConnection

from fastapi_userkit import exceptions
from fastapi_userkit._fingerprint import fingerprint, fingerprints_match
from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.sessions.errors import InvalidRefreshToken, RefreshTokenReused
from fastapi_userkit.sessions.models import SessionRecord
from fastapi_userkit.sessions.settings import RefreshSettings
from fastapi_userkit.sessions.tokens import child_refresh_token, digest, is_refresh_token, new_refresh_token

__all__ = ["Rotation", "SessionService", "client_details"]

_MAX_USER_AGENT = 512
_MAX_IP = 64


def _clean(value: str | None, limit: int) -> str | None:
    # Client-controlled text shown back in session lists and admin screens: no control
    # characters, bounded length.
    if not value:
        return None
    return "".join(char if char.isprintable() else "?" for char in value[:limit])


def client_details(connection: HTTPConnection | None) -> tuple[str | None, str | None]:
    """The client's IP address and user agent, cleaned for storage."""
    if connection is None:
        return None, None
    host = connection.client.host if connection.client else None
    return _clean(host, _MAX_IP), _clean(connection.headers.get("user-agent"), _MAX_USER_AGENT)


@dataclass(frozen=True, slots=True)
class Rotation:
    """The outcome of a successful refresh."""

    user: Any
    """The session's user, loaded and checked (active, same password)."""

    session: SessionRecord
    """The session, as updated by the refresh."""

    refresh_token: str
    """The new refresh token to hand to the client."""


class SessionService:
    """Applies the session rules of one backend's :class:`RefreshSettings` to its store.

    Args:
        settings: The backend's refresh settings.
    """

    def __init__(self, settings: RefreshSettings) -> None:
        self.settings = settings
        self.store = settings.store

    def credential(self, hashed_password: str) -> str:
        """The keyed digest of a password hash that binds a session to it (ASVS 5.0 7.4.3)."""
        return fingerprint(self.settings.secret, "session-credential", hashed_password)

    def is_live(self, session: SessionRecord, now: datetime) -> bool:
        """Whether the session is within both its absolute lifetime and its idle timeout."""
        if now >= session.expires_at:
            return False
        idle = self.settings.idle_timeout_seconds
        return idle is None or now < session.last_used_at + timedelta(seconds=idle)

    def seconds_left(self, session: SessionRecord) -> int:
        """Seconds until the session's absolute end (at least 1): the refresh cookie's ``Max-Age``."""
        remaining = (session.expires_at - self.settings.clock()).total_seconds()
        return max(1, math.ceil(remaining))

    def _belongs_to(self, session: SessionRecord, user: Any) -> bool:
        return (
            str(session.user_id) == str(user.id)
            and bool(user.is_active)
            and fingerprints_match(self.credential(user.hashed_password), session.credential)
        )

    async def start(
        self, user: Any, connection: HTTPConnection | None, *, assurance: Assurance | None = None
    ) -> tuple[SessionRecord, str]:
        """Start a session for ``user``; return it and its first refresh token.

        The session id is new at every login, never taken from the client (no fixation, T20).
        It keeps ``assurance``, how the user signed in (level 1 at an unknown time by default),
        and every access token a refresh of it mints carries it (issue 18).
        """
        now = self.settings.clock()
        assurance = assurance if assurance is not None else Assurance()
        ip_address, user_agent = client_details(connection)
        session = SessionRecord(
            id=uuid.uuid4(),
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=self.settings.absolute_lifetime_seconds),
            ip_address=ip_address,
            user_agent=user_agent,
            credential=self.credential(user.hashed_password),
            aal=assurance.aal,
            auth_time=assurance.auth_time,
        )
        token = new_refresh_token()
        await self.store.create(session, digest(token))
        return session, token

    async def rotate(
        self, token: str, user_manager: BaseUserManager[Any, Any], connection: HTTPConnection | None
    ) -> Rotation:
        """Exchange a refresh token for its child.

        Raises:
            InvalidRefreshToken: Not a refresh token, unknown, or its session has expired
                or ended (the password changed, the user was deactivated or deleted).
            RefreshTokenReused: The token was already rotated: its session is now ended.
        """
        if not is_refresh_token(token):
            raise InvalidRefreshToken()
        parent_digest = digest(token)
        record = await self.store.get_refresh_token(parent_digest)
        session = None if record is None else await self.store.get(record.session_id)
        if record is None or session is None:
            raise InvalidRefreshToken()
        now = self.settings.clock()
        user = await self._load_user(user_manager, session.user_id)
        if user is None or not self._belongs_to(session, user) or not self.is_live(session, now):
            await self.store.delete(session.id)
            raise InvalidRefreshToken()

        child = child_refresh_token(self.settings.secret, token)
        child_digest = digest(child)
        if record.rotated_at is None:
            ip_address, user_agent = client_details(connection)
            rotated = await self.store.rotate(
                session.id, parent_digest, child_digest, now=now, ip_address=ip_address, user_agent=user_agent
            )
            if rotated:
                updated = replace(session, last_used_at=now, ip_address=ip_address, user_agent=user_agent)
                return Rotation(user, updated, child)
            # A concurrent refresh of the same token won the race: read what it committed.
            record = await self.store.get_refresh_token(parent_digest)
            if record is None:
                raise InvalidRefreshToken()
        if await self._within_grace(record.rotated_at, child_digest, now):
            return Rotation(user, session, child)
        await self.store.delete(session.id)
        raise RefreshTokenReused(user.id, session.id)

    async def _within_grace(self, rotated_at: datetime | None, child_digest: str, now: datetime) -> bool:
        grace = self.settings.reuse_grace_seconds
        if grace <= 0 or rotated_at is None or now - rotated_at > timedelta(seconds=grace):
            return False
        # Only the immediate parent of the current token is forgiven: a grandparent inside
        # the window is still a reuse (django-oauth-toolkit issue 1617 shows the pitfall).
        child = await self.store.get_refresh_token(child_digest)
        return child is not None and child.rotated_at is None

    @staticmethod
    async def _load_user(user_manager: BaseUserManager[Any, Any], user_id: Any) -> Any:
        try:
            return await user_manager.user_db.get(user_manager.parse_id(user_id))
        except exceptions.InvalidID:
            return None

    async def allows(self, session_id: uuid.UUID, user: Any) -> bool:
        """Whether an access token bound to ``session_id`` may authenticate ``user`` now.

        One lookup by primary key: the session must exist, belong to the user, be live and
        predate no password change.
        """
        session = await self.store.get(session_id)
        return session is not None and self._belongs_to(session, user) and self.is_live(session, self.settings.clock())

    async def live_sessions(self, user: Any) -> list[SessionRecord]:
        """The user's live sessions, newest first."""
        now = self.settings.clock()
        sessions = await self.store.list_for_user(user.id)
        return [session for session in sessions if self._belongs_to(session, user) and self.is_live(session, now)]

    async def reauthenticated(self, session_id: uuid.UUID, assurance: Assurance) -> bool:
        """Record a re-authentication in the session: its tokens carry ``assurance`` from now on.

        The session keeps its id, refresh token and lifetime (issue 18, item 4: no new session);
        only a proof of the user's factors changes its level, never a refresh.

        Returns:
            Whether the session still existed.
        """
        return await self.store.set_assurance(session_id, assurance.aal, assurance.auth_time)

    async def end(self, session_id: uuid.UUID) -> bool:
        """End one session (its refresh tokens and bound access tokens stop working)."""
        return await self.store.delete(session_id)

    async def end_all(self, user_id: Any, *, keep: uuid.UUID | None = None) -> int:
        """End every session of a user but ``keep``; return how many."""
        return await self.store.delete_for_user(user_id, keep=keep)
