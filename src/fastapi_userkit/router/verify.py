"""``POST /request-verify-token`` and ``POST /verify``."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, status
from pydantic import EmailStr

from fastapi_userkit import exceptions, schemas
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router.common import openapi_errors, translate

__all__ = ["get_verify_router"]


def get_verify_router(get_user_manager: UserManagerDependency[UP, ID], user_schema: type[schemas.U]) -> APIRouter:
    """Build the e-mail verification router.

    ``/request-verify-token`` answers ``202`` for unknown, inactive and already verified
    addresses alike; ``/verify`` answers ``200`` with the user, or ``400`` with a code.
    """
    router = APIRouter()

    @router.post("/request-verify-token", status_code=status.HTTP_202_ACCEPTED, name="verify:request-token")
    async def request_verify_token(
        request: Request,
        email: Annotated[EmailStr, Body(embed=True)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        try:
            user = await user_manager.get_by_email(email)
            await user_manager.request_verify(user, request)
        except (exceptions.UserNotExists, exceptions.UserInactive, exceptions.UserAlreadyVerified):
            pass
        return None

    @router.post("/verify", response_model=user_schema, name="verify:verify", responses=openapi_errors("verify"))
    async def verify(
        request: Request,
        token: Annotated[str, Body(embed=True)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> schemas.BaseUser[ID]:
        with translate("verify"):
            user = await user_manager.verify(token, request)
        return user_schema.model_validate(user)

    return router
