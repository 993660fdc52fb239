"""``POST /forgot-password`` and ``POST /reset-password``."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, status
from pydantic import EmailStr

from fastapi_userkit import exceptions
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router.common import openapi_errors, translate

__all__ = ["get_reset_password_router"]


def get_reset_password_router(get_user_manager: UserManagerDependency[UP, ID]) -> APIRouter:
    """Build the password-reset router.

    ``/forgot-password`` answers ``202`` whether or not the address exists, and does the same
    cheap work either way (no hashing: the reset token is bound to the password by an HMAC).
    """
    router = APIRouter()

    @router.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED, name="reset:forgot_password")
    async def forgot_password(
        request: Request,
        email: Annotated[EmailStr, Body(embed=True)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        try:
            user = await user_manager.get_by_email(email)
            await user_manager.forgot_password(user, request)
        except (exceptions.UserNotExists, exceptions.UserInactive):
            pass
        return None

    @router.post("/reset-password", name="reset:reset_password", responses=openapi_errors("reset"))
    async def reset_password(
        request: Request,
        token: Annotated[str, Body()],
        password: Annotated[str, Body()],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        with translate("reset"):
            await user_manager.reset_password(token, password, request)
        return None

    return router
