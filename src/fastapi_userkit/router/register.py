"""``POST /register``."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status

from fastapi_userkit import schemas
from fastapi_userkit._services.registration import register as register_user
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._registration_conflict import look_alike_user
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.settings import SecuritySettings

__all__ = ["get_register_router"]


def get_register_router(
    get_user_manager: UserManagerDependency[UP, ID],
    user_schema: type[schemas.U],
    user_create_schema: type[schemas.UC],
    *,
    hide_existing_users: bool = False,
    security: SecuritySettings | None = None,
) -> APIRouter:
    """Build the registration router.

    Answers ``201`` with the new user, ``400 REGISTER_USER_ALREADY_EXISTS`` (also for the losers
    of a race: the database decides) or ``400 {"code": "REGISTER_INVALID_PASSWORD", ...}``.

    Args:
        get_user_manager: The user-manager dependency.
        user_schema: The read schema of the answer.
        user_create_schema: The schema of the request body.
        hide_existing_users: Opt-in enumeration protection (ASVS 5.0 6.3.8, new in
            fastapi-userkit): a taken address gets the same ``201`` as a new one, with a random
            id, and ``on_registration_conflict`` is called after the response so the app can
            e-mail the owner. Off by default because it changes FastAPI Users' documented answer.
        security: Rate limiting of failed registrations per IP and per address (``None``: the
            defaults, see :class:`~fastapi_userkit.security.SecuritySettings`).
    """
    router = APIRouter(route_class=UserkitRoute)
    guard = (security if security is not None else SecuritySettings()).flow_guard("register")

    @router.post(
        "/register",
        response_model=user_schema,
        status_code=status.HTTP_201_CREATED,
        name="register:register",
        responses=openapi_errors("register", *guard.error_flows()),
    )
    async def register(
        request: Request,
        user_create: user_create_schema,  # type: ignore[valid-type]  # the app's schema, known at wiring time
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        background_tasks: BackgroundTasks,
    ) -> schemas.BaseUser[ID]:
        # Translated outside the guard, which judges a failure by the domain error's type (issue 17).
        with translate("register"):
            async with guard.attempt(request, user_manager, getattr(user_create, "email", None)):
                registration = await register_user(
                    user_manager, user_create, request, background_tasks, hide_existing_users=hide_existing_users
                )
        if registration.user is None:
            return look_alike_user(user_create, user_schema, registration.existing)
        return user_schema.model_validate(registration.user)

    return router
