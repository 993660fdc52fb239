"""``POST /request-verify-token`` and ``POST /verify``."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, status
from pydantic import EmailStr

from fastapi_userkit import exceptions, schemas
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._background import after_response
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.settings import SecuritySettings

__all__ = ["get_verify_router"]


def get_verify_router(
    get_user_manager: UserManagerDependency[UP, ID],
    user_schema: type[schemas.U],
    *,
    security: SecuritySettings | None = None,
) -> APIRouter:
    """Build the e-mail verification router.

    ``/request-verify-token`` answers ``202`` for unknown, inactive and already verified
    addresses alike, after the same single lookup; the token and the app's
    ``on_after_request_verify`` hook run after the response is sent (ASVS 5.0 6.3.8).
    ``/verify`` answers ``200`` with the user, or ``400`` with a code.

    Args:
        get_user_manager: The user-manager dependency.
        user_schema: The read schema of ``/verify``'s answer.
        security: The rate limits (``None``: the defaults): request-verify-token counts every
            request per IP and per address, verify counts failures per IP.
    """
    router = APIRouter(route_class=UserkitRoute)
    security = security if security is not None else SecuritySettings()
    request_guard = security.flow_guard("request_verify_token")
    verify_guard = security.flow_guard("verify")

    @router.post(
        "/request-verify-token",
        status_code=status.HTTP_202_ACCEPTED,
        name="verify:request-token",
        responses=openapi_errors(*request_guard.error_flows()),
    )
    async def request_verify_token(
        request: Request,
        email: Annotated[EmailStr, Body(embed=True)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        background_tasks: BackgroundTasks,
    ) -> None:
        with translate():  # the guard's refusals
            async with request_guard.attempt(request, user_manager, email):
                try:
                    user = await user_manager.get_by_email(email)
                except exceptions.UserNotExists:
                    return None
        background_tasks.add_task(
            after_response(user_manager.request_verify, exceptions.UserInactive, exceptions.UserAlreadyVerified),
            user,
            request,
        )
        return None

    @router.post(
        "/verify",
        response_model=user_schema,
        name="verify:verify",
        responses=openapi_errors("verify", *verify_guard.error_flows()),
    )
    async def verify(
        request: Request,
        token: Annotated[str, Body(embed=True)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> schemas.BaseUser[ID]:
        with translate("verify"):
            async with verify_guard.attempt(request, user_manager):
                user = await user_manager.verify(token, request)
        return user_schema.model_validate(user)

    return router
