"""``POST /forgot-password`` and ``POST /reset-password``."""

from typing import Annotated, Protocol, runtime_checkable

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, status
from pydantic import EmailStr

from fastapi_userkit import exceptions
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._background import after_response
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.settings import SecuritySettings

__all__ = ["get_reset_password_router"]


@runtime_checkable
class _HasEmail(Protocol):
    """What the route needs from ``reset_password``'s answer to clear the login throttle."""

    email: str


def get_reset_password_router(
    get_user_manager: UserManagerDependency[UP, ID], *, security: SecuritySettings | None = None
) -> APIRouter:
    """Build the password-reset router.

    ``/forgot-password`` answers ``202`` whether or not the address exists, and does the same
    cheap work either way (one indexed lookup); issuing the token and the app's
    ``on_after_forgot_password`` hook run after the response is sent, so a slow mailer cannot
    reveal which addresses have accounts (ASVS 5.0 6.3.8).

    ``security`` sets the rate limits (``None``: the defaults): forgot-password counts every
    request per IP and per address; reset-password counts failures per IP, and a successful
    reset clears the account's failed-login throttle (ASVS 5.0 6.1.1: the owner gets back in),
    found through the user ``reset_password`` returns (an override that returns nothing still
    answers ``200``; only that clearing is skipped).
    """
    router = APIRouter(route_class=UserkitRoute)
    security = security if security is not None else SecuritySettings()
    forgot_guard = security.flow_guard("forgot_password")
    reset_guard = security.flow_guard("reset_password")

    @router.post(
        "/forgot-password",
        status_code=status.HTTP_202_ACCEPTED,
        name="reset:forgot_password",
        responses=openapi_errors(*forgot_guard.error_flows()),
    )
    async def forgot_password(
        request: Request,
        email: Annotated[EmailStr, Body(embed=True)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        background_tasks: BackgroundTasks,
    ) -> None:
        with translate():  # the guard's refusals
            async with forgot_guard.attempt(request, user_manager, email):
                try:
                    user = await user_manager.get_by_email(email)
                except exceptions.UserNotExists:
                    return None
        background_tasks.add_task(after_response(user_manager.forgot_password, exceptions.UserInactive), user, request)
        return None

    @router.post(
        "/reset-password",
        name="reset:reset_password",
        responses=openapi_errors("reset", *reset_guard.error_flows()),
    )
    async def reset_password(
        request: Request,
        token: Annotated[str, Body()],
        password: Annotated[str, Body()],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        with translate("reset"):
            async with reset_guard.attempt(request, user_manager) as attempt:
                # Typed ``object``: FastAPI Users' route ignored the return value, so a manager
                # override may return nothing (issue 16, item 10); the reset succeeded either way.
                user: object = await user_manager.reset_password(token, password, request)
                if isinstance(user, _HasEmail):
                    attempt.forget_login_failures(user.email)
        return None

    return router
