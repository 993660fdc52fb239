"""The confirmed e-mail change for API clients (issue 20, T40): mount it under ``/users``.

* ``GET /me/email-change``: the pending change (``{"new_email", "expires_at"}``) or ``null``.
* ``POST /me/email-change`` ``{"email"}``: needs a sign-in at most ``fresh_within`` seconds old
  (RFC 9470's ``401`` otherwise; a user with a second factor needs a fresh two-factor sign-in).
  Answers ``202`` with the pending change; the user row does not change. The same ``202`` for a
  free and a taken address (ASVS 5.0 6.3.8): the conflict is told to whoever uses the link. A
  new request cancels the older one. Limited per IP and per new address by the forgot-password
  flow's limits, since each request sends two e-mails.
* ``DELETE /me/email-change``: cancels the pending change (``204``, also when none was pending).
* ``POST /email-change/confirm`` ``{"token"}``: the link sent to the new address; the e-mail
  changes (once) and is verified. The link opens a page of the app that POSTs the token: a GET
  changes nothing (T35).
* ``POST /email-change/revert`` ``{"token"}``: the "this was not me" link sent to the old
  address (valid for days): restores the old address and ends every session of the user, in
  every backend of the app (no sign-in needed; the route builds each backend's strategy).

``PATCH /users/me`` can start the same change instead of setting the address at once:
``get_users_router(..., email_change=get_email_change)`` (see :func:`start_email_change`).
"""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, Response, status
from pydantic import AfterValidator, BaseModel, EmailStr
from pydantic_core import PydanticCustomError

from fastapi_userkit import schemas
from fastapi_userkit._email_forms import lookalike_problem
from fastapi_userkit._services.sign_in import SecondStep
from fastapi_userkit.authentication import Authenticator
from fastapi_userkit.email_auth import EmailChangePending, EmailChangeService
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router._sensitive import require_fresh_second_factor
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.ratelimit import FlowGuard
from fastapi_userkit.security.settings import SecuritySettings
from fastapi_userkit.types import DependencyCallable

if TYPE_CHECKING:  # the two-factor package needs the ``mfa`` extra
    from fastapi_userkit.mfa.settings import MFA

__all__ = [
    "DEFAULT_FRESH_WITHIN",
    "EmailChangePendingRead",
    "EmailChangeRequest",
    "EmailChangeRevertRead",
    "get_email_change_router",
    "start_email_change",
]

DEFAULT_FRESH_WITHIN = 300
"""Seconds since sign-in within which a change may be asked for (ASVS 5.0 7.5.1; as passkey management)."""


def _registrable(value: str) -> str:
    # The registration's rule (issue 16): no look-alike spelling the three databases would match differently.
    problem = lookalike_problem(value)
    if problem is not None:
        raise PydanticCustomError("value_error", "value is not a valid email address: {reason}", {"reason": problem})
    return value


class EmailChangeRequest(BaseModel):
    """The body of ``POST /users/me/email-change``."""

    email: Annotated[EmailStr, AfterValidator(_registrable)]
    """The new address; it receives the confirmation link."""


class EmailChangePendingRead(BaseModel):
    """A change waiting for the new address's confirmation."""

    new_email: str
    """The address asked for."""

    expires_at: datetime
    """When the confirmation link stops working."""

    @classmethod
    def of(cls, pending: EmailChangePending) -> "EmailChangePendingRead":
        """The answer for the service's pending change."""
        return cls(new_email=pending.new_email, expires_at=pending.expires_at)


class EmailChangeRevertRead(BaseModel):
    """What a revert did; the password was made unusable and every session of the user has ended."""

    email: str
    """The account's address now."""

    restored: bool
    """The address changed back (``False``: the change was only pending, and is cancelled)."""

    address_taken: bool
    """The old address could not come back: another account has it by now."""

    password_cleared: bool
    """Always ``True``: the password was made unusable (whoever asked for the change had signed in
    as the user, so likely knows it); set a new one with "forgot password", whose link goes to
    :attr:`email`."""


async def _no_second_step() -> None:
    """The second-step dependency of an app without two-factor login: nothing."""
    return None


async def start_email_change(
    guard: FlowGuard,
    request: Request,
    user_manager: BaseUserManager[UP, ID],
    service: EmailChangeService[UP, ID],
    user: UP,
    new_email: str,
    background_tasks: BackgroundTasks,
) -> EmailChangePending | None:
    """Ask for a change of ``user``'s address to ``new_email``; the e-mails go out after the response.

    The caller has checked the sign-in's freshness. Used by ``POST /users/me/email-change`` and by
    ``PATCH /users/me`` when the app turned the confirmed change on.

    Raises:
        fastapi.HTTPException: ``400 EMAIL_CHANGE_SAME_ADDRESS``, or the rate limit's ``429``
            (through the error table).
    """
    with translate("email-change"):
        async with guard.attempt(request, user_manager, new_email):
            await service.request_change(user, new_email, defer=background_tasks.add_task)
    return await service.pending(user)


def get_email_change_router(
    get_user_manager: UserManagerDependency[UP, ID],
    authenticator: Authenticator[UP, ID],
    user_schema: type[schemas.U],
    get_email_change: DependencyCallable[EmailChangeService[UP, ID]],
    *,
    requires_verification: bool = False,
    fresh_within: int = DEFAULT_FRESH_WITHIN,
    security: SecuritySettings | None = None,
    mfa: "MFA | None" = None,
) -> APIRouter:
    """Build the e-mail change routes (mount them under ``/users``).

    Args:
        get_user_manager: The user-manager dependency.
        authenticator: Resolves the current user.
        user_schema: The read schema (the answer of a confirmation).
        get_email_change: A dependency giving the request's
            :class:`~fastapi_userkit.email_auth.EmailChangeService`.
        requires_verification: Only verified users may ask for, see or cancel a change.
        fresh_within: Seconds since sign-in within which a change may be asked for.
        security: Rate limits (``None``: the defaults).
        mfa: Two-factor login; a user with a factor then needs a two-factor sign-in at most
            ``mfa.step_up_within`` seconds old to ask for a change (T43).
    """
    router = APIRouter(route_class=UserkitRoute)
    security = security if security is not None else SecuritySettings()
    request_guard = security.flow_guard("forgot_password")
    current_user = authenticator.current_user(active=True, verified=requires_verification)
    fresh_user = authenticator.current_user(active=True, verified=requires_verification, fresh_within=fresh_within)
    auth_errors: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        auth_errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]
    get_second_step: Any = _no_second_step if mfa is None else mfa.second_step_dependency()
    step_up_within = mfa.step_up_within if mfa is not None else fresh_within

    @router.get(
        "/me/email-change",
        name="users:email_change_pending",
        response_model=EmailChangePendingRead | None,
        responses=openapi_errors(extra=auth_errors),
    )
    async def pending(
        user: Annotated[UP, Depends(current_user)],
        service: Annotated[EmailChangeService[UP, ID], Depends(get_email_change)],
    ) -> EmailChangePendingRead | None:
        """The change waiting for the new address's confirmation, or ``null``."""
        found = await service.pending(user)
        return None if found is None else EmailChangePendingRead.of(found)

    @router.post(
        "/me/email-change",
        name="users:email_change_request",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=EmailChangePendingRead,
        responses=openapi_errors("email-change", "step-up", *request_guard.error_flows(), extra=auth_errors),
    )
    async def request_change(
        request: Request,
        body: EmailChangeRequest,
        background_tasks: BackgroundTasks,
        user: Annotated[UP, Depends(fresh_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        service: Annotated[EmailChangeService[UP, ID], Depends(get_email_change)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> EmailChangePendingRead:
        """Send a confirmation link to the new address and a notice to the current one; nothing changes yet."""
        await require_fresh_second_factor(request, user, second_step, step_up_within)
        started = await start_email_change(
            request_guard, request, user_manager, service, user, body.email, background_tasks
        )
        # The service wrote the change a moment ago: it is pending unless its lifetime is over already.
        assert started is not None  # noqa: S101 - confirm_lifetime is positive (EmailChangeSettings)
        return EmailChangePendingRead.of(started)

    @router.delete(
        "/me/email-change",
        name="users:email_change_cancel",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=openapi_errors(extra=auth_errors),
    )
    async def cancel(
        user: Annotated[UP, Depends(current_user)],
        service: Annotated[EmailChangeService[UP, ID], Depends(get_email_change)],
    ) -> None:
        """Cancel the pending change: its confirmation link dies (the old address's revert link stays)."""
        await service.cancel(user)
        return None

    @router.post(
        "/email-change/confirm",
        name="users:email_change_confirm",
        response_model=user_schema,
        responses=openapi_errors("email-change-link"),
    )
    async def confirm(
        request: Request,
        token: Annotated[str, Body(embed=True, max_length=256)],
        service: Annotated[EmailChangeService[UP, ID], Depends(get_email_change)],
    ) -> schemas.BaseUser[ID]:
        """Apply the change with the token of the link sent to the new address (once)."""
        with translate("email-change-link"):
            user = await service.confirm(token, request=request)
        return user_schema.model_validate(user)

    # Optional, never required: it builds every backend's strategy for the request, so a revert
    # ends the tokens of each of them (Redis keys, revoked JWTs, refresh sessions), from a browser
    # or a client that is not signed in as well (the owner may click from anywhere).
    every_backend = authenticator.current_user(optional=True)

    @router.post(
        "/email-change/revert",
        name="users:email_change_revert",
        response_model=EmailChangeRevertRead,
        responses=openapi_errors("email-change-link"),
        dependencies=[Depends(every_backend)],
    )
    async def revert(
        request: Request,
        token: Annotated[str, Body(embed=True, max_length=256)],
        service: Annotated[EmailChangeService[UP, ID], Depends(get_email_change)],
    ) -> EmailChangeRevertRead:
        """Undo or cancel the change with the token of the link sent to the old address.

        The password becomes unusable (set a new one with "forgot password") and every session ends.
        """
        with translate("email-change-link"):
            result = await service.revert(token, request=request)
        return EmailChangeRevertRead(
            email=result.email,
            restored=result.restored,
            address_taken=result.address_taken,
            password_cleared=result.password_cleared,
        )

    return router
