"""``/me`` and ``/{id}``: read, update and delete users."""

from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from pydantic import BaseModel

from fastapi_userkit import schemas
from fastapi_userkit._email_forms import login_email
from fastapi_userkit._services.sign_in import SecondStep
from fastapi_userkit.authentication import Authenticator, CookieTransport
from fastapi_userkit.authentication._context import auth_context
from fastapi_userkit.email_auth import EmailChangeService
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.openapi import OpenAPIResponseType
from fastapi_userkit.router._current_password import (
    check_current_password,
    with_current_password,
    without_current_password,
)
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router._sensitive import require_fresh_second_factor, require_recent_sign_in
from fastapi_userkit.router.common import Flow, openapi_errors, translate
from fastapi_userkit.router.email_change import DEFAULT_FRESH_WITHIN, start_email_change
from fastapi_userkit.security.ratelimit import FlowGuard
from fastapi_userkit.security.settings import SecuritySettings
from fastapi_userkit.sessions.flow import renew_cookie_login
from fastapi_userkit.types import DependencyCallable

if TYPE_CHECKING:  # the two-factor package needs the ``mfa`` extra
    from fastapi_userkit.mfa.settings import MFA

__all__ = ["get_users_router"]


async def _no_second_step() -> None:
    """The second-step dependency of an app without two-factor login: nothing."""
    return None


async def _no_email_change() -> None:
    """The e-mail change dependency of an app that sets the address at once (FastAPI Users): nothing."""
    return None


def _email_to_confirm(
    request: Request, email_changes: object | None, body: BaseModel, user: Any, fresh_within: int
) -> str | None:
    """The new address of a confirmed change ``body`` asks for, after checking the sign-in is recent.

    ``None`` when the confirmed change is off, or the body sets no address, ``null`` or the
    current one.

    Raises:
        fastapi.HTTPException: RFC 9470's ``401`` for a sign-in older than ``fresh_within``.
    """
    email: str | None = getattr(body, "email", None) if "email" in body.model_fields_set else None
    if email_changes is None or email is None or login_email(email) == user.email:
        return None
    require_recent_sign_in(request, fresh_within)
    return email


def _without_email(body: BaseModel) -> Any:
    """``body`` with its ``email`` left out (same class, the other fields set as the client set them)."""
    values = {name: getattr(body, name) for name in body.model_fields_set if name != "email"}
    values.update(body.model_extra or {})
    return type(body).model_construct(_fields_set=set(values), **values)


def _update_me_openapi(
    user_schema: type[Any], flows: tuple[Flow, ...], extra: dict[int, list[Any]], email_change_guard: FlowGuard | None
) -> OpenAPIResponseType:
    """``PATCH /me``'s answers; with the confirmed e-mail change on, its ``202`` and refusals too."""
    if email_change_guard is None:
        return openapi_errors(*flows, extra=extra)
    step_up: tuple[Flow, ...] = () if "step-up" in flows else ("step-up",)
    return {
        status.HTTP_202_ACCEPTED: {
            "model": user_schema,
            "description": "The e-mail change is pending: the link sent to the new address applies it; "
            "the other fields were applied and the user is shown as stored.",
        },
        **openapi_errors(*flows, "email-change", *step_up, *email_change_guard.error_flows(), extra=extra),
    }


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
    email_change: DependencyCallable[EmailChangeService[UP, ID]] | None = None,
    email_change_fresh_within: int = DEFAULT_FRESH_WITHIN,
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
        email_change: A dependency giving the request's
            :class:`~fastapi_userkit.email_auth.EmailChangeService` (new; ``None``: FastAPI
            Users' behaviour, the address changes at once). With it, an ``email`` in ``PATCH
            /me`` starts the confirmed change instead (T40): the other fields are applied, the
            address stays as it is until the link sent to the new address is used, and the
            answer is ``202`` with the user as stored (its current address). Without it a
            stolen session can move the account to an address of the thief's in one request.
            Asking needs a sign-in at most ``email_change_fresh_within`` seconds old (RFC 9470's
            ``401`` otherwise); a taken address is answered like a free one.
        email_change_fresh_within: See ``email_change``.
    """
    router = APIRouter(route_class=UserkitRoute)
    security = security if security is not None else SecuritySettings()
    login_guard = security.flow_guard("login")
    email_change_guard = security.flow_guard("forgot_password")
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
    get_email_change: Any = _no_email_change if email_change is None else email_change
    me_update_responses = _update_me_openapi(
        user_schema, me_update_flows, me_update_errors, email_change_guard if email_change is not None else None
    )

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
        responses=me_update_responses,
    )
    async def update_me(
        request: Request,
        response: Response,
        background_tasks: BackgroundTasks,
        user_update: body_schema,  # type: ignore[valid-type]  # the app's schema, known at wiring time
        user: Annotated[UP, Depends(get_current_active_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
        email_changes: Annotated[EmailChangeService[UP, ID] | None, Depends(get_email_change)],
    ) -> schemas.BaseUser[ID]:
        if mfa is not None and {"email", "password"} & cast(BaseModel, user_update).model_fields_set:
            await require_fresh_second_factor(request, user, second_step, mfa.step_up_within)
        new_email = _email_to_confirm(request, email_changes, user_update, user, email_change_fresh_within)
        if require_current_password:
            with translate("current-password"):
                await check_current_password(login_guard, request, user_manager, user, user_update)
            user_update = without_current_password(user_update, user_update_schema)
        # With the confirmed change on, the address is never written here: only the new address's link does.
        user_update = user_update if email_changes is None else _without_email(user_update)
        old_hash = user.hashed_password
        with translate("update"):
            updated = await user_manager.update(user_update, user, safe=True, request=request)
        if updated.hashed_password != old_hash:
            await _renew_cookie_session(request, response, updated)
        if email_changes is not None and new_email is not None:
            await start_email_change(
                email_change_guard, request, user_manager, email_changes, updated, new_email, background_tasks
            )
            response.status_code = status.HTTP_202_ACCEPTED
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
