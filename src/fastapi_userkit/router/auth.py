"""``POST /login`` and ``POST /logout`` for one authentication backend."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from fastapi_userkit.authentication import AuthenticationBackend, Authenticator, Strategy
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router.common import ErrorCode, openapi_errors
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType

__all__ = ["get_auth_router"]


def get_auth_router(
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    authenticator: Authenticator[UP, ID],
    requires_verification: bool = False,
) -> APIRouter:
    """Build the login/logout router of ``backend``.

    Args:
        backend: The backend whose transport and strategy issue and revoke the token.
        get_user_manager: The user-manager dependency.
        authenticator: Resolves the current user for logout.
        requires_verification: Refuse unverified users (login 400, logout 403).
    """
    router = APIRouter()
    get_current_user_token = authenticator.current_user_token(active=True, verified=requires_verification)

    login_responses: dict[int | str, dict[str, Any]] = {
        **openapi_errors(
            "login",
            extra={
                status.HTTP_400_BAD_REQUEST: [
                    ErrorCode.LOGIN_BAD_CREDENTIALS.value,
                    *([ErrorCode.LOGIN_USER_NOT_VERIFIED.value] if requires_verification else []),
                ]
            },
        ),
        **backend.transport.get_openapi_login_responses_success(),
    }

    @router.post("/login", name=f"auth:{backend.name}.login", responses=login_responses)
    async def login(
        request: Request,
        credentials: Annotated[OAuth2PasswordRequestForm, Depends()],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.get_strategy)],
    ) -> Response:
        user = await user_manager.authenticate(credentials)
        # Unknown e-mail, wrong password and inactive user get the same answer (ASVS 5.0 6.3.8).
        if user is None or not user.is_active:
            await user_manager.emit_security_event(
                SecurityEventType.LOGIN_FAILED,
                request,
                user_id=None if user is None else user.id,
                outcome=SecurityEventOutcome.FAILURE,
                details={"backend": backend.name, "reason": "bad_credentials"},
            )
            raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=ErrorCode.LOGIN_BAD_CREDENTIALS)
        if requires_verification and not user.is_verified:
            await user_manager.emit_security_event(
                SecurityEventType.LOGIN_FAILED,
                request,
                user_id=user.id,
                outcome=SecurityEventOutcome.FAILURE,
                details={"backend": backend.name, "reason": "not_verified"},
            )
            raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=ErrorCode.LOGIN_USER_NOT_VERIFIED)
        response = await backend.login(strategy, user)
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_SUCCEEDED, request, user_id=user.id, details={"backend": backend.name}
        )
        await user_manager.on_after_login(user, request, response)
        return response

    logout_responses: dict[int | str, dict[str, Any]] = {
        **openapi_errors(
            extra={
                status.HTTP_401_UNAUTHORIZED: ["Unauthorized"],
                **({status.HTTP_403_FORBIDDEN: ["Forbidden"]} if requires_verification else {}),
            }
        ),
        **backend.transport.get_openapi_logout_responses_success(),
    }

    @router.post(
        "/logout",
        name=f"auth:{backend.name}.logout",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=logout_responses,
    )
    async def logout(
        request: Request,
        user_token: Annotated[tuple[UP, str], Depends(get_current_user_token)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.get_strategy)],
    ) -> Response:
        user, token = user_token
        response = await backend.logout(strategy, user, token)
        await user_manager.emit_security_event(
            SecurityEventType.LOGOUT, request, user_id=user.id, details={"backend": backend.name}
        )
        return response

    @router.post(
        "/logout-all",
        name=f"auth:{backend.name}.logout_all",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=logout_responses,
    )
    async def logout_all(
        request: Request,
        user_token: Annotated[tuple[UP, str], Depends(get_current_user_token)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.get_strategy)],
    ) -> Response:
        """End every session of the current user, in every backend, this one included."""
        user, token = user_token
        await user_manager.logout_everywhere(user, request)
        return await backend.logout(strategy, user, token)

    return router
