"""``POST /login``, ``POST /logout`` and ``POST /reauthenticate`` for one authentication backend."""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from fastapi_userkit._services.sign_in import SecondStep, SignIn
from fastapi_userkit.authentication import AuthenticationBackend, Authenticator, Strategy
from fastapi_userkit.authentication._context import request_backend_strategies
from fastapi_userkit.exceptions import LogoutEverywhereNotSupported
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._reauthenticate import add_reauthenticate_route
from fastapi_userkit.router._refresh import add_refresh_route, login_openapi_success
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.csrf import is_cookie_transport
from fastapi_userkit.security.events import SecurityEventType
from fastapi_userkit.security.settings import SecuritySettings

if TYPE_CHECKING:  # the two-factor package needs the ``mfa`` extra
    from fastapi_userkit.mfa.settings import MFA

__all__ = ["get_auth_router"]


async def _no_second_step() -> None:
    """The second-step dependency of an app without two-factor login: nothing."""
    return None


def get_auth_router(
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    authenticator: Authenticator[UP, ID],
    requires_verification: bool = False,
    *,
    security: SecuritySettings | None = None,
    mfa: "MFA | None" = None,
) -> APIRouter:
    """Build the login/logout router of ``backend``.

    Args:
        backend: The backend whose transport and strategy issue and revoke the token.
        get_user_manager: The user-manager dependency.
        authenticator: Resolves the current user for logout.
        requires_verification: Refuse unverified users (login 400, logout 403).
        security: Rate limiting of failed logins, and login CSRF checks for a cookie backend
            (``None``: the defaults, see :class:`~fastapi_userkit.security.SecuritySettings`).
        mfa: Two-factor login (new; ``None``: off, FastAPI Users' behaviour). A user with an
            active factor gets a ``202`` challenge from ``POST /login``, answered at ``POST /mfa``
            (see :mod:`fastapi_userkit.router.mfa`).
    """
    router = APIRouter(route_class=UserkitRoute)
    security = security if security is not None else SecuritySettings()
    login_guard = security.flow_guard("login")
    sign_in: SignIn[UP, ID] = SignIn(backend, login_guard, requires_verification)
    # Login CSRF (ASVS 5.0 3.5.1): only a cookie login plants a session in the browser.
    csrf = security.csrf_protection() if is_cookie_transport(backend.transport) else None
    get_current_user_token = authenticator.current_user_token(active=True, verified=requires_verification)

    login_success = login_openapi_success(backend)
    login_responses: dict[int | str, dict[str, Any]] = {
        **openapi_errors(
            "login",
            *(("login-verified",) if requires_verification else ()),
            # Login CSRF checks the origin only; the guard's 429 (and 503 when failing closed).
            *(("csrf-origin",) if csrf is not None else ()),
            *login_guard.error_flows(),
        ),
        **login_success,
    }
    get_second_step: Any = _no_second_step
    if mfa is not None:
        from fastapi_userkit.router.mfa import add_challenge_route, challenge_openapi

        get_second_step = mfa.second_step_dependency()
        login_responses.update(challenge_openapi())
        add_challenge_route(router, backend, get_user_manager, sign_in, mfa, csrf=csrf, success=login_success)

    # The route's own status is the transport's success code, or OpenAPI would also list FastAPI's
    # default 200, which a cookie login (204) never answers (DESIGN.md, deliberate difference 8).
    login_status = min(
        (int(code) for code in login_success if 200 <= int(code) < 300),
        default=status.HTTP_200_OK,
    )

    @router.post("/login", name=f"auth:{backend.name}.login", status_code=login_status, responses=login_responses)
    async def login(
        request: Request,
        credentials: Annotated[OAuth2PasswordRequestForm, Depends()],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> Response:
        if csrf is not None:
            csrf.check_origin(request)
        with translate("login", "login-verified"):
            user = await sign_in.check_password(request, user_manager, credentials.username, credentials.password)
            challenge = await sign_in.challenge(request, user_manager, user, second_step)
            if challenge is not None:  # issue 18: a user with a second factor answers a challenge first
                return challenge
            response = await sign_in.complete(request, user_manager, strategy, user)
        if csrf is not None:
            csrf.set_token_cookie(response, backend.transport)
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
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
    ) -> Response:
        user, token = user_token
        response = await backend.logout_for_request(strategy, user, token, request)
        if csrf is not None:
            csrf.clear_token_cookie(response, backend.transport)
        await user_manager.emit_security_event(
            SecurityEventType.LOGOUT, request, user_id=user.id, details={"backend": backend.name}
        )
        return response

    logout_all_responses: dict[int | str, dict[str, Any]] = {
        **openapi_errors(
            "logout-all",
            extra={
                status.HTTP_401_UNAUTHORIZED: ["Unauthorized"],
                **({status.HTTP_403_FORBIDDEN: ["Forbidden"]} if requires_verification else {}),
            },
        ),
        **backend.transport.get_openapi_logout_responses_success(),
    }

    @router.post(
        "/logout-all",
        name=f"auth:{backend.name}.logout_all",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=logout_all_responses,
    )
    async def logout_all(
        request: Request,
        user_token: Annotated[tuple[UP, str], Depends(get_current_user_token)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
    ) -> Response:
        """End every session of the current user, in every backend, this one included.

        Answers ``400 LOGOUT_ALL_NOT_SUPPORTED``, ending nothing, when a backend of the app keeps
        no state that could end its tokens (a plain JWT without refresh): a user who presses "log
        out everywhere" after a theft is told it cannot happen rather than shown a success.
        """
        user, token = user_token
        with translate("logout-all"):
            if not all(
                peer.can_end_all_tokens(peer_strategy) for peer, peer_strategy in request_backend_strategies(request)
            ):
                raise LogoutEverywhereNotSupported()
        await user_manager.logout_everywhere(user, request)
        return await backend.logout_for_request(strategy, user, token, request)

    if backend.refresh is not None:
        add_refresh_route(router, backend, get_user_manager, csrf=csrf)
    # Step-up (issue 18, item 4): prove the factors again for the same session.
    add_reauthenticate_route(
        router,
        backend,
        get_user_manager,
        authenticator,
        guard=login_guard,
        requires_verification=requires_verification,
        get_second_step=get_second_step,
        csrf=csrf,
        success=backend.transport.get_openapi_login_responses_success(),
    )
    return router
