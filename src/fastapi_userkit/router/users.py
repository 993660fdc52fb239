"""``/me`` and ``/{id}``: read, update and delete users."""

from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel

from fastapi_userkit import schemas
from fastapi_userkit._services.sign_in import SecondStep
from fastapi_userkit.authentication import Authenticator, CookieTransport
from fastapi_userkit.authentication._context import auth_context
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._current_password import (
    check_current_password,
    with_current_password,
    without_current_password,
)
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router._sensitive import require_fresh_second_factor
from fastapi_userkit.router.common import Flow, openapi_errors, translate
from fastapi_userkit.security.settings import SecuritySettings
from fastapi_userkit.sessions.flow import renew_cookie_login

if TYPE_CHECKING:  # the two-factor package needs the ``mfa`` extra
    from fastapi_userkit.mfa.settings import MFA

__all__ = ["get_users_router"]


async def _no_second_step() -> None:
    """The second-step dependency of an app without two-factor login: nothing."""
    return None


async def _renew_cookie_session(request: Request, response: Response, user: Any) -> None:
    """Keep the browser that changed its password logged in.

    The change ended every session, this one included (its token carries a tag of the old
    password hash). A cookie session gets a fresh token from the backend that authenticated it;
    bearer clients log in again, since a header token cannot be replaced behind their back.
    """
    context = auth_context(request)
    if context is None or not isinstance(context.backend.transport, CookieTransport):
        return
    # With refresh on, a new session (and refresh cookie) replaces the ended one (T23).
    await renew_cookie_login(context.backend, context.strategy, user, request, response)


def get_users_router(
    get_user_manager: UserManagerDependency[UP, ID],
    user_schema: type[schemas.U],
    user_update_schema: type[schemas.UU],
    authenticator: Authenticator[UP, ID],
    requires_verification: bool = False,
    *,
    require_current_password: bool = False,
    security: SecuritySettings | None = None,
    mfa: "MFA | None" = None,
) -> APIRouter:
    """Build the users router.

    ``/me`` routes need an active (and, with ``requires_verification``, verified) user;
    ``/{id}`` routes need a superuser as well. An id that does not parse is a 404, like an
    unknown one.

    Args:
        get_user_manager: The user-manager dependency.
        user_schema: The read schema.
        user_update_schema: The update schema of ``PATCH /me`` and ``PATCH /{id}``.
        authenticator: Resolves the current user.
        requires_verification: Only verified users may use the routes.
        require_current_password: ``PATCH /me`` changes the e-mail or the password only with
            the right ``current_password`` in the body (new; off by default, as in FastAPI
            Users): without it ``400 UPDATE_USER_CURRENT_PASSWORD_REQUIRED``, wrong ``400
            UPDATE_USER_CURRENT_PASSWORD_INVALID``, counted as a failed login of the account.
        security: The login throttle that counts wrong current passwords (``None``: the
            defaults, see :class:`~fastapi_userkit.security.SecuritySettings`).
        mfa: Two-factor login (new). ``PATCH /me`` changing the e-mail or the password of a
            user with a factor then needs a fresh two-factor sign-in (T43): otherwise ``401``
            with ``WWW-Authenticate: Bearer error="insufficient_user_authentication"``. The
            same holds for the acting superuser of ``PATCH /{id}`` changing either: a superuser
            with a factor needs their own fresh two-factor sign-in.
    """
    router = APIRouter(route_class=UserkitRoute)
    login_guard = (security if security is not None else SecuritySettings()).flow_guard("login")
    body_schema: type[Any] = (
        with_current_password(user_update_schema) if require_current_password else user_update_schema
    )
    get_current_active_user = authenticator.current_user(active=True, verified=requires_verification)
    get_current_superuser = authenticator.current_user(active=True, verified=requires_verification, superuser=True)

    auth_errors: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        auth_errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]
    superuser_errors: dict[int, list[Any]] = {**auth_errors, status.HTTP_403_FORBIDDEN: ["Forbidden"]}
    me_update_errors: dict[int, list[Any]] = dict(auth_errors)
    me_update_flows: tuple[Flow, ...] = ("update",)
    if require_current_password:
        me_update_flows = ("current-password", "update", *login_guard.error_flows())

    get_second_step: Any = _no_second_step
    if mfa is not None:
        get_second_step = mfa.second_step_dependency()
        me_update_flows = (*me_update_flows, "step-up")

    async def get_user_or_404(
        id: str,
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> UP:
        with translate("user"):
            return await user_manager.get(user_manager.parse_id(id))

    @router.get(
        "/me",
        response_model=user_schema,
        name="users:current_user",
        responses=openapi_errors(extra=auth_errors),
    )
    async def me(user: Annotated[UP, Depends(get_current_active_user)]) -> Any:
        # The user row itself: FastAPI validates it once against ``response_model`` (from its
        # attributes); building the schema here would validate and dump it a second time.
        return user

    @router.patch(
        "/me",
        response_model=user_schema,
        name="users:patch_current_user",
        responses=openapi_errors(*me_update_flows, extra=me_update_errors),
    )
    async def update_me(
        request: Request,
        response: Response,
        user_update: body_schema,  # type: ignore[valid-type]  # the app's schema, known at wiring time
        user: Annotated[UP, Depends(get_current_active_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> schemas.BaseUser[ID]:
        if mfa is not None and {"email", "password"} & cast(BaseModel, user_update).model_fields_set:
            await require_fresh_second_factor(request, user, second_step, mfa.step_up_within)
        if require_current_password:
            with translate("current-password"):
                await check_current_password(login_guard, request, user_manager, user, user_update)
            user_update = without_current_password(user_update, user_update_schema)
        old_hash = user.hashed_password
        with translate("update"):
            updated = await user_manager.update(user_update, user, safe=True, request=request)
        if updated.hashed_password != old_hash:
            await _renew_cookie_session(request, response, updated)
        return user_schema.model_validate(updated)

    @router.get(
        "/{id}",
        response_model=user_schema,
        dependencies=[Depends(get_current_superuser)],
        name="users:user",
        responses=openapi_errors("user", extra=superuser_errors),
    )
    async def get_user(user: Annotated[UP, Depends(get_user_or_404)]) -> schemas.BaseUser[ID]:
        return user_schema.model_validate(user)

    @router.patch(
        "/{id}",
        response_model=user_schema,
        name="users:patch_user",
        responses=openapi_errors("user", "update", *(("step-up",) if mfa is not None else ()), extra=superuser_errors),
    )
    async def update_user(
        user_update: user_update_schema,  # type: ignore[valid-type]  # the app's schema, known at wiring time
        request: Request,
        superuser: Annotated[UP, Depends(get_current_superuser)],
        user: Annotated[UP, Depends(get_user_or_404)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> schemas.BaseUser[ID]:
        if mfa is not None and {"email", "password"} & cast(BaseModel, user_update).model_fields_set:
            # T43 for the acting superuser: one with a factor needs their own fresh two-factor sign-in.
            await require_fresh_second_factor(request, superuser, second_step, mfa.step_up_within)
        with translate("update"):
            updated = await user_manager.update(user_update, user, safe=False, request=request)
        return user_schema.model_validate(updated)

    @router.delete(
        "/{id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        dependencies=[Depends(get_current_superuser)],
        name="users:delete_user",
        responses=openapi_errors("user", extra=superuser_errors),
    )
    async def delete_user(
        request: Request,
        user: Annotated[UP, Depends(get_user_or_404)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> None:
        await user_manager.delete(user, request=request)
        return None

    return router
