"""The user manager's session methods: "log out everywhere", and ending a user's sessions.

:class:`~fastapi_userkit.manager.BaseUserManager` inherits them, as it inherits its hooks. The
work is :mod:`fastapi_userkit._services.sessions`'s, given its targets: the strategies and refresh
stores the authentication side offered for the request, and the manager's own
``session_strategies`` and ``session_stores`` (for app code, jobs and the CLI outside a request).
These methods add the security event and the hook, and are where an application overrides them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic

from fastapi import Request

from fastapi_userkit._contracts import AllTokensDestroying
from fastapi_userkit._manager_hooks import UserManagerHooks
from fastapi_userkit._services import sessions
from fastapi_userkit._services.sessions import UserSessionsEnding
from fastapi_userkit.db.base import BaseUserDatabase
from fastapi_userkit.models import ID, UP
from fastapi_userkit.security.events import SecurityEventType

__all__ = ["SessionMethods"]


class SessionMethods(UserManagerHooks[UP, ID], Generic[UP, ID]):
    """The session methods of :class:`~fastapi_userkit.manager.BaseUserManager` (inherited from here)."""

    user_db: BaseUserDatabase[UP, ID]
    session_strategies: Sequence[AllTokensDestroying]
    session_stores: Sequence[UserSessionsEnding]

    async def logout_everywhere(
        self,
        user: UP,
        request: Request | None = None,
        *,
        strategies: Sequence[object] | None = None,
        session_stores: Sequence[UserSessionsEnding] | None = None,
    ) -> None:
        """End every session of ``user``, in every strategy that can (ASVS 5.0 7.4.3, 7.4.5).

        Args:
            user: Whose sessions end.
            request: An authenticated request; its strategies (one per backend) are used.
            strategies: The strategies to use instead (outside a request: the CLI, a job).
            session_stores: The refresh-session stores to use instead of the request's backends'.

        Database and Redis tokens and refresh sessions are deleted; JWTs are revoked when the
        strategy has a revoked-token table, else they stay valid until they expire.
        """
        await self.end_refresh_sessions(user, request, session_stores=session_stores)
        if strategies is None:
            strategies = sessions.request_session_targets(request).strategies
        await sessions.destroy_all_tokens(user, strategies)
        await self.emit_security_event(SecurityEventType.SESSIONS_REVOKED, request, user_id=user.id)
        await self.on_after_logout_everywhere(user, request)

    async def end_refresh_sessions(
        self, user: UP, request: Request | None = None, *, session_stores: Sequence[UserSessionsEnding] | None = None
    ) -> None:
        """Delete every refresh session of ``user`` (new in fastapi-userkit).

        The stores are ``session_stores``, or those of the backends with refresh on that the
        request was authenticated against. Sessions in a store out of reach die anyway: each is
        bound to the password hash and checked against the user row at every use.
        """
        if session_stores is None:
            session_stores = sessions.request_session_targets(request).stores
        await sessions.end_refresh_sessions(user.id, session_stores)

    async def end_sessions(self, user: UP, request: Request | None) -> None:
        """End every session of ``user`` for good (issue 16, item 8).

        The manager calls it after a password change or reset, a deactivation, and before a
        deletion; the e-mail and passkey flows and app code call it after a change of the same
        weight (an e-mail change reverted, a password removed).

        Ends for good, so a reactivation revives none: the token and session rows beside the user
        table, then the tokens and refresh sessions of the request's strategies and stores and of
        :attr:`session_strategies` / :attr:`session_stores` (:mod:`fastapi_userkit._services.sessions`).
        """
        termination = sessions.SessionTermination(self.user_db, self.session_strategies, self.session_stores)
        await termination.end_stored(user.id)
        targets = termination.targets(request)
        await self.logout_everywhere(user, request, strategies=targets.strategies, session_stores=targets.stores)
