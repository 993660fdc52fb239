"""``GET /me/security-events``: a user reads their own recent security events (new in fastapi-userkit).

Seeing one's own sign-ins, failed attempts and credential changes is how a user notices an
account takeover (OWASP ASVS 5.0 6.3.5, 6.3.7). The events come from the manager's
``security_event_db``; an app that stores none answers ``404``.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel

from fastapi_userkit.authentication import Authenticator
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType

__all__ = ["SecurityEventRead", "get_security_events_router"]

_DEFAULT_LIMIT = 50
_MAX_LIMIT = 200


class SecurityEventRead(BaseModel):
    """One event as the owner sees it (no user id: it is always theirs)."""

    type: SecurityEventType
    outcome: SecurityEventOutcome
    created_at: datetime
    ip_address: str | None
    user_agent: str | None
    details: dict[str, str]


def get_security_events_router(
    get_user_manager: UserManagerDependency[UP, ID],
    authenticator: Authenticator[UP, ID],
    requires_verification: bool = False,
) -> APIRouter:
    """Build the router with ``GET /me/security-events`` (mount it under ``/users``).

    Args:
        get_user_manager: The user-manager dependency; its ``security_event_db`` is read.
        authenticator: Resolves the current (active) user.
        requires_verification: Refuse unverified users with ``403``.
    """
    router = APIRouter(route_class=UserkitRoute)
    get_current_active_user = authenticator.current_user(active=True, verified=requires_verification)
    errors: dict[int, list[Any]] = {
        status.HTTP_401_UNAUTHORIZED: ["Unauthorized"],
        status.HTTP_404_NOT_FOUND: ["Not Found"],
    }
    if requires_verification:
        errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]

    @router.get(
        "/me/security-events",
        response_model=list[SecurityEventRead],
        name="users:security_events",
        responses=openapi_errors(extra=errors),
    )
    async def security_events(
        user: Annotated[UP, Depends(get_current_active_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        limit: Annotated[int, Query(ge=1, le=_MAX_LIMIT)] = _DEFAULT_LIMIT,
    ) -> list[SecurityEventRead]:
        """The current user's most recent security events, newest first."""
        if user_manager.security_event_db is None:
            raise HTTPException(status_code=status.HTTP_404_NOT_FOUND)
        events = await user_manager.security_event_db.list_for_user(user.id, limit)
        return [
            SecurityEventRead(
                type=event.type,
                outcome=event.outcome,
                created_at=event.created_at,
                ip_address=event.ip_address,
                user_agent=event.user_agent,
                details=dict(event.details),
            )
            for event in events
        ]

    return router
