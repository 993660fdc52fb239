"""``POST /reauthenticate`` of a backend (added to its auth router; issue 18, item 4).

An authenticated client posts ``{"password": "...", "code": "..."}`` (``code``: the second
factor's one-time or recovery code, needed when the user has one) and gets the backend's login
answer (a bearer ``{"access_token", "token_type"}``, or a cookie and ``204``) for the SAME
session: a fresh token carrying the new level and ``auth_time``, which is what
``current_user(aal=2)`` and ``current_user(fresh_within=...)`` ask for. With refresh on, the
client keeps its refresh token; the session it names now mints tokens at the new level. See
:mod:`fastapi_userkit.authentication.reauthentication`.
"""

# No ``from __future__ import annotations``: FastAPI reads the route's annotations at run time,
# and they name dependencies local to add_reauthenticate_route.
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field, SecretStr

from fastapi_userkit.authentication import AuthenticationBackend, Authenticator, Strategy
from fastapi_userkit.authentication.reauthentication import Reauthentication, SessionEnded
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.openapi import OpenAPIResponseType
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.csrf import CSRFProtection
from fastapi_userkit.security.events import SecurityEventType
from fastapi_userkit.security.ratelimit.limiter import FlowGuard

__all__ = ["ReauthenticateRequest", "add_reauthenticate_route"]


class ReauthenticateRequest(BaseModel):
    """The body of ``POST /reauthenticate``."""

    password: SecretStr = Field(description="The user's current password.")
    code: str | None = Field(
        default=None,
        max_length=64,
        description="The second factor's one-time or recovery code; required when the user has a second factor.",
    )


def add_reauthenticate_route(
    router: APIRouter,
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    authenticator: Authenticator[UP, ID],
    *,
    guard: FlowGuard,
    requires_verification: bool,
    get_second_step: Callable[..., Any],
    csrf: CSRFProtection | None,
    success: OpenAPIResponseType,
) -> None:
    """Add ``POST /reauthenticate`` (route name ``auth:{name}.reauthenticate``) to ``router``.

    Args:
        router: The backend's auth router.
        backend: The backend whose token is renewed; only its tokens are accepted here.
        get_user_manager: The user-manager dependency.
        authenticator: Resolves the current user.
        guard: The login flow's rate-limit guard.
        requires_verification: Refuse unverified users (``403``), as the backend's logout does.
        get_second_step: The login's second-step dependency (its ``factor`` is the user's
            second factor; ``None`` without two-factor login).
        csrf: For a cookie backend, the CSRF checks of its login (a new CSRF cookie is set).
        success: The transport's OpenAPI login success (``200`` bearer, ``204`` cookie).
    """
    reauthentication: Reauthentication[UP, ID] = Reauthentication(backend, guard)

    async def this_backend() -> Sequence[AuthenticationBackend[UP, ID]]:
        return [backend]

    get_current_user_token = authenticator.current_user_token(
        active=True, verified=requires_verification, get_enabled_backends=this_backend
    )
    extra: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        extra[status.HTTP_403_FORBIDDEN] = ["Forbidden"]
    error_flows = (*guard.error_flows(), *(("csrf-origin",) if csrf is not None else ()))
    success_status = min((int(code) for code in success if 200 <= int(code) < 300), default=status.HTTP_200_OK)

    @router.post(
        "/reauthenticate",
        name=f"auth:{backend.name}.reauthenticate",
        status_code=success_status,
        responses={**openapi_errors("reauthenticate", *error_flows, extra=extra), **success},
    )
    async def reauthenticate(
        request: Request,
        body: Annotated[ReauthenticateRequest, Body()],
        user_token: Annotated[tuple[UP, str], Depends(get_current_user_token)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
        second_step: Annotated[Any, Depends(get_second_step)],
    ) -> Response:
        """Prove the password (and second factor) again; get a fresh token for the same session."""
        user, token = user_token
        factor = None if second_step is None else second_step.factor
        with translate("reauthenticate"):
            assurance = await reauthentication.check(
                request, user_manager, user, body.password.get_secret_value(), body.code, factor
            )
        try:
            response = await reauthentication.renew(request, strategy, user, token, assurance)
        except SessionEnded as exc:  # ended by a concurrent logout: as the authenticator answers
            raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED) from exc
        if csrf is not None:
            csrf.set_token_cookie(response, backend.transport)
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_SUCCEEDED,
            request,
            user_id=user.id,
            details={"backend": backend.name, "method": "reauthenticate", "aal": str(assurance.aal)},
        )
        return response
