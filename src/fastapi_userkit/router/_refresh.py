"""``POST /refresh`` of a backend with refresh on (added to its auth router).

A bearer client posts ``{"refresh_token": "..."}`` and gets a new pair in the body; a browser
sends its path-scoped refresh cookie and gets both cookies renewed. Any refusal is a plain
``401`` (a cookie client also gets its refresh cookie cleared): the client logs in again. The
reuse of a rotated token also ends its session and emits a ``refresh_token_reuse`` security
event (RFC 9700 section 4.14.2, T28).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fastapi_userkit.authentication import AuthenticationBackend, Strategy
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.openapi import OpenAPIResponseType
from fastapi_userkit.router.common import openapi_errors
from fastapi_userkit.security.csrf import CSRFProtection
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.sessions import flow
from fastapi_userkit.sessions.errors import DuplicateRefreshCookie, InvalidRefreshToken, RefreshTokenReused

__all__ = ["RefreshTokenRequest", "add_refresh_route", "login_openapi_success"]


class RefreshTokenRequest(BaseModel):
    """The body a bearer client sends to ``POST /refresh`` (a browser sends its cookie instead)."""

    refresh_token: str


def _refused(backend: AuthenticationBackend[Any, Any], request: Request) -> Response:
    response = JSONResponse({"detail": "Unauthorized"}, status_code=status.HTTP_401_UNAUTHORIZED)
    transport: Any = backend.transport
    transport.clear_refresh_cookie(response, flow.refresh_cookie(backend, request, 0))
    return response


def add_refresh_route(
    router: APIRouter,
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    *,
    csrf: CSRFProtection | None = None,
) -> None:
    """Add ``POST /refresh`` (route name ``auth:{name}.refresh``) to ``router``.

    Args:
        router: The backend's auth router.
        backend: A backend with refresh on.
        get_user_manager: The user-manager dependency.
        csrf: For a cookie backend, the CSRF checks its cookie-authenticated requests get.
    """
    sessions = backend.sessions
    if sessions is None:  # pragma: no cover - the auth router adds the route only with refresh on
        return
    transport: Any = backend.transport
    extra: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized", DuplicateRefreshCookie.code]}
    # The CSRF refusals come from the error table (in token mode, CSRF_TOKEN_INVALID as well).
    csrf_flows = csrf.request_error_flows() if csrf is not None else ()
    success = transport.get_openapi_refresh_responses_success()
    success_status = min(int(code) for code in success)

    @router.post(
        "/refresh",
        name=f"auth:{backend.name}.refresh",
        status_code=success_status,
        responses={**openapi_errors(*csrf_flows, extra=extra), **success},
    )
    async def refresh(
        request: Request,
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
        body: Annotated[RefreshTokenRequest | None, Body()] = None,
    ) -> Response:
        """Exchange a refresh token for a new access token and a new refresh token."""
        if csrf is not None:
            csrf.check_request(request, transport)
        try:
            token = transport.get_refresh_token(
                request, body.refresh_token if body else None, sessions.settings.cookie_name
            )
        except DuplicateRefreshCookie as exc:
            # No cookie is cleared: clearing ours would leave the planted one to be taken next time.
            return JSONResponse({"detail": exc.code}, status_code=status.HTTP_401_UNAUTHORIZED)
        try:
            rotation = await sessions.rotate(token or "", user_manager, request)
        except RefreshTokenReused as exc:
            await user_manager.emit_security_event(
                SecurityEventType.REFRESH_TOKEN_REUSE,
                request,
                user_id=exc.user_id,
                outcome=SecurityEventOutcome.FAILURE,
                details={"backend": backend.name, "session_id": str(exc.session_id)},
            )
            return _refused(backend, request)
        except InvalidRefreshToken:
            return _refused(backend, request)
        return await flow.issue_session_tokens(
            backend, strategy, rotation.user, rotation.session, rotation.refresh_token, request
        )


def login_openapi_success(backend: AuthenticationBackend[Any, Any]) -> OpenAPIResponseType:
    """OpenAPI description of the backend's successful login (with both tokens when refresh is on)."""
    transport: Any = backend.transport
    if backend.refresh is not None:
        success: OpenAPIResponseType = transport.get_openapi_refresh_responses_success()
    else:
        success = transport.get_openapi_login_responses_success()
    return success
