"""``/sessions``: a user's list of logged-in devices, and the admin view of anyone's.

Routes (new in fastapi-userkit; T25, T26):

* ``GET /sessions`` — my live sessions, newest first, the one making the request flagged ``current``;
* ``DELETE /sessions/{session_id}`` — end one of mine;
* ``DELETE /sessions`` — end all of mine but the current one;
* ``GET /users/{id}/sessions``, ``DELETE /users/{id}/sessions`` and
  ``DELETE /users/{id}/sessions/{session_id}`` — the same for any user, superusers only.

A session id that is not one of the caller's live sessions (another user's, an ended one, an
unknown or malformed id) answers ``404``, never ``403``: the answer tells nothing about other
users' sessions. Ending a session ends its refresh tokens and, on their next request, the
access tokens bound to it.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel

from fastapi_userkit.authentication import AuthenticationBackend, Authenticator
from fastapi_userkit.authentication._context import auth_context
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.events import SecurityEventType
from fastapi_userkit.sessions import flow
from fastapi_userkit.sessions.models import SessionRecord
from fastapi_userkit.sessions.service import SessionService

__all__ = ["SessionRead", "get_sessions_router"]


class SessionRead(BaseModel):
    """One session as ``GET /sessions`` shows it."""

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip_address: str | None
    user_agent: str | None
    current: bool
    """Whether this is the session of the request's own access token."""


def _services(backends: Sequence[AuthenticationBackend[Any, Any]]) -> list[SessionService]:
    services: list[SessionService] = []
    for backend in backends:
        service = backend.sessions
        if service is not None and all(service.store is not seen.store for seen in services):
            services.append(service)
    return services


def _parse(session_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(session_id)
    except ValueError:
        return None


def _current_session(request: Request) -> uuid.UUID | None:
    context = auth_context(request)
    return None if context is None else flow.bound_session_id(context.strategy, context.token)


def get_sessions_router(
    get_user_manager: UserManagerDependency[UP, ID],
    authenticator: Authenticator[UP, ID],
    requires_verification: bool = False,
) -> APIRouter:
    """Build the sessions router over the authenticator's backends that have refresh on.

    Args:
        get_user_manager: The user-manager dependency.
        authenticator: Resolves the current (active) user, and gives the backends whose
            sessions are listed and ended.
        requires_verification: Refuse unverified users with ``403``.

    Raises:
        ConfigurationError: No backend has refresh on, so there are no sessions to manage.
    """
    services = _services(authenticator.backends)
    if not services:
        raise ConfigurationError("get_sessions_router needs a backend with refresh=RefreshSettings(...).")
    router = APIRouter(route_class=UserkitRoute)
    current_user = authenticator.current_user(active=True, verified=requires_verification)
    current_superuser = authenticator.current_user(active=True, verified=requires_verification, superuser=True)
    auth_errors: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        auth_errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]
    superuser_errors: dict[int, list[Any]] = {**auth_errors, status.HTTP_403_FORBIDDEN: ["Forbidden"]}
    not_found: dict[int, list[Any]] = {status.HTTP_404_NOT_FOUND: ["Not Found"]}

    async def live_sessions(user: Any, current: uuid.UUID | None) -> list[SessionRead]:
        found: list[SessionRecord] = []
        for service in services:
            found.extend(await service.live_sessions(user))
        found.sort(key=lambda session: (session.created_at, str(session.id)), reverse=True)
        return [
            SessionRead(
                id=session.id,
                created_at=session.created_at,
                last_used_at=session.last_used_at,
                expires_at=session.expires_at,
                ip_address=session.ip_address,
                user_agent=session.user_agent,
                current=session.id == current,
            )
            for session in found
        ]

    async def end_one(user: Any, session_id: str) -> None:
        parsed = _parse(session_id)
        if parsed is not None:
            for service in services:
                if any(session.id == parsed for session in await service.live_sessions(user)):
                    await service.end(parsed)
                    return
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND)

    async def end_all(user: Any, keep: uuid.UUID | None) -> None:
        for service in services:
            await service.end_all(user.id, keep=keep)

    async def audit(manager: BaseUserManager[UP, ID], request: Request, user: Any, scope: str, actor: Any) -> None:
        by = "self" if actor.id == user.id else "admin"
        details = {"scope": scope, "by": by}
        await manager.emit_security_event(SecurityEventType.SESSIONS_REVOKED, request, user_id=user.id, details=details)

    async def get_user_or_404(
        id: str, user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)]
    ) -> UP:
        with translate("user"):
            return await user_manager.get(user_manager.parse_id(id))

    @router.get(
        "/sessions",
        response_model=list[SessionRead],
        name="sessions:list",
        responses=openapi_errors(extra=auth_errors),
    )
    async def list_sessions(request: Request, user: Annotated[UP, Depends(current_user)]) -> list[SessionRead]:
        """List my live sessions; ``current`` marks the one making this request."""
        return await live_sessions(user, _current_session(request))

    @router.delete(
        "/sessions",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        name="sessions:delete_others",
        responses=openapi_errors(extra=auth_errors),
    )
    async def end_other_sessions(
        request: Request,
        user: Annotated[UP, Depends(current_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        """End all my sessions but the current one."""
        await end_all(user, _current_session(request))
        await audit(user_manager, request, user, "others", user)
        return None

    @router.delete(
        "/sessions/{session_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        name="sessions:delete",
        responses=openapi_errors(extra={**auth_errors, **not_found}),
    )
    async def end_session(
        session_id: str,
        request: Request,
        user: Annotated[UP, Depends(current_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        """End one of my sessions (``404`` for any id that is not one of them)."""
        await end_one(user, session_id)
        await audit(user_manager, request, user, "one", user)
        return None

    @router.get(
        "/users/{id}/sessions",
        response_model=list[SessionRead],
        name="sessions:user_sessions",
        responses=openapi_errors("user", extra=superuser_errors),
    )
    async def list_user_sessions(
        request: Request,
        _admin: Annotated[UP, Depends(current_superuser)],
        user: Annotated[UP, Depends(get_user_or_404)],
    ) -> list[SessionRead]:
        """List a user's live sessions (superusers only)."""
        return await live_sessions(user, _current_session(request))

    @router.delete(
        "/users/{id}/sessions",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        name="sessions:delete_user_sessions",
        responses=openapi_errors("user", extra=superuser_errors),
    )
    async def end_user_sessions(
        request: Request,
        admin: Annotated[UP, Depends(current_superuser)],
        user: Annotated[UP, Depends(get_user_or_404)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        """End every session of a user (superusers only; ASVS 5.0 7.4.5)."""
        await end_all(user, None)
        await audit(user_manager, request, user, "all", admin)
        return None

    @router.delete(
        "/users/{id}/sessions/{session_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        name="sessions:delete_user_session",
        responses=openapi_errors("user", extra={**superuser_errors, **not_found}),
    )
    async def end_user_session(
        session_id: str,
        request: Request,
        admin: Annotated[UP, Depends(current_superuser)],
        user: Annotated[UP, Depends(get_user_or_404)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        """End one session of a user (superusers only)."""
        await end_one(user, session_id)
        await audit(user_manager, request, user, "one", admin)
        return None

    return router
