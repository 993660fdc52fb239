"""``POST /email-login`` and its completions by link and by code, for one authentication backend (issue 20).

* ``POST /email-login`` answers the same ``202`` for every address (ASVS 5.0 6.3.8): the service
  does the same lookup and write for all of them, and the e-mail goes out after the response
  (``BackgroundTasks``), as ``/forgot-password`` does; requests are limited per IP and per
  address by the forgot-password flow's limits.
* ``POST /email-login/link`` takes the link's token in the body: the e-mailed link opens a page of
  the app which POSTs it, so a mail scanner following the link (a GET) spends nothing (T35).
* ``POST /email-login/code`` takes the address and the code typed in the app; wrong codes count
  as failed logins of the address and the IP.

Both completions answer exactly as the backend's ``POST /login``: a user with a second factor
gets the ``202`` challenge first (the e-mail is one factor), everyone else the backend's login
response (token, cookie, refresh session).
"""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, Response, status
from pydantic import EmailStr

from fastapi_userkit._services.sign_in import SecondStep, SignIn
from fastapi_userkit.authentication import AuthenticationBackend, Strategy
from fastapi_userkit.email_auth import EmailSignInResult, EmailSignInService
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._refresh import login_openapi_success
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.csrf import is_cookie_transport
from fastapi_userkit.security.settings import SecuritySettings
from fastapi_userkit.types import DependencyCallable

if TYPE_CHECKING:  # the two-factor package needs the ``mfa`` extra
    from fastapi_userkit.mfa.settings import MFA

__all__ = ["get_email_login_router"]


async def _no_second_step() -> None:
    """The second-step dependency of an app without two-factor login: nothing."""
    return None


def get_email_login_router(
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    get_email_sign_in: DependencyCallable[EmailSignInService[UP, ID]],
    *,
    security: SecuritySettings | None = None,
    mfa: "MFA | None" = None,
) -> APIRouter:
    """Build the e-mail sign-in router of ``backend`` (mount it under the auth prefix).

    Args:
        backend: The backend whose login response a completed sign-in gets.
        get_user_manager: The user-manager dependency.
        get_email_sign_in: A dependency giving the request's
            :class:`~fastapi_userkit.email_auth.EmailSignInService` (over the request's session).
        security: Rate limits and login CSRF checks (``None``: the defaults).
        mfa: Two-factor login; a user with an active factor answers its challenge first.
    """
    router = APIRouter(route_class=UserkitRoute)
    security = security if security is not None else SecuritySettings()
    request_guard = security.flow_guard("forgot_password")
    login_guard = security.flow_guard("login")
    sign_in: SignIn[UP, ID] = SignIn(backend, login_guard)
    csrf = security.csrf_protection() if is_cookie_transport(backend.transport) else None
    get_second_step: Any = _no_second_step
    success = login_openapi_success(backend)
    completion_responses: dict[int | str, dict[str, Any]] = {
        **openapi_errors("email-login", *login_guard.error_flows(), *(("csrf-origin",) if csrf is not None else ())),
        **success,
    }
    if mfa is not None:
        from fastapi_userkit.router.mfa import challenge_openapi

        get_second_step = mfa.second_step_dependency()
        completion_responses.update(challenge_openapi())
    login_status = min((int(code) for code in success if 200 <= int(code) < 300), default=status.HTTP_200_OK)

    @router.post(
        "/email-login",
        status_code=status.HTTP_202_ACCEPTED,
        name=f"auth:{backend.name}.email_login",
        responses=openapi_errors(*request_guard.error_flows()),
    )
    async def email_login(
        request: Request,
        email: Annotated[EmailStr, Body(embed=True)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        service: Annotated[EmailSignInService[UP, ID], Depends(get_email_sign_in)],
        background_tasks: BackgroundTasks,
    ) -> None:
        async with request_guard.attempt(request, user_manager, email):
            await service.request(email, defer=background_tasks.add_task)
        return None

    async def finish(
        request: Request,
        user_manager: BaseUserManager[UP, ID],
        strategy: Strategy[UP, ID],
        second_step: SecondStep | None,
        result: EmailSignInResult[UP],
    ) -> Response:
        challenge = await sign_in.challenge(request, user_manager, result.user, second_step)
        if challenge is not None:  # issue 18: the e-mail is one factor; the second comes next
            return challenge
        response = await sign_in.complete(request, user_manager, strategy, result.user)
        if csrf is not None:
            csrf.set_token_cookie(response, backend.transport)
        return response

    @router.post(
        "/email-login/link",
        name=f"auth:{backend.name}.email_login_link",
        status_code=login_status,
        responses=completion_responses,
    )
    async def email_login_link(
        request: Request,
        token: Annotated[str, Body(embed=True, max_length=256)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        service: Annotated[EmailSignInService[UP, ID], Depends(get_email_sign_in)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> Response:
        if csrf is not None:
            csrf.check_origin(request)
        with translate("email-login"):
            result = await service.complete_by_link(token, request=request)
            return await finish(request, user_manager, strategy, second_step, result)

    @router.post(
        "/email-login/code",
        name=f"auth:{backend.name}.email_login_code",
        status_code=login_status,
        responses=completion_responses,
    )
    async def email_login_code(
        request: Request,
        email: Annotated[EmailStr, Body()],
        code: Annotated[str, Body(max_length=32)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        service: Annotated[EmailSignInService[UP, ID], Depends(get_email_sign_in)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> Response:
        if csrf is not None:
            csrf.check_origin(request)
        with translate("email-login"):
            async with login_guard.attempt(request, user_manager, email) as attempt:
                result = await service.complete_by_code(email, code, request=request)
                attempt.mark_succeeded()
            return await finish(request, user_manager, strategy, second_step, result)

    return router
