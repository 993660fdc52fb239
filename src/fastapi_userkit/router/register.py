"""``POST /register``."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from fastapi_userkit import schemas
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router.common import openapi_errors, translate

__all__ = ["get_register_router"]


def get_register_router(
    get_user_manager: UserManagerDependency[UP, ID],
    user_schema: type[schemas.U],
    user_create_schema: type[schemas.UC],
) -> APIRouter:
    """Build the registration router.

    Answers ``201`` with the new user, ``400 REGISTER_USER_ALREADY_EXISTS`` (also for the losers
    of a race: the database decides) or ``400 {"code": "REGISTER_INVALID_PASSWORD", ...}``.
    """
    router = APIRouter()

    @router.post(
        "/register",
        response_model=user_schema,
        status_code=status.HTTP_201_CREATED,
        name="register:register",
        responses=openapi_errors("register"),
    )
    async def register(
        request: Request,
        user_create: user_create_schema,  # type: ignore[valid-type]  # the app's schema, known at wiring time
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> schemas.BaseUser[ID]:
        with translate("register"):
            created_user = await user_manager.create(user_create, safe=True, request=request)
        return user_schema.model_validate(created_user)

    return router
