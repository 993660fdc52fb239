"""The opt-in current-password check of ``PATCH /users/me`` (``require_current_password=True``).

A bearer token stolen from a browser or a log is enough, in FastAPI Users, to change the
account's e-mail or password through ``PATCH /users/me``, and so to keep the account after the
token expires. With the option, a change of either needs the current password too (ASVS 5.0
6.2.3, re-authentication before changing an authentication factor): verified like a login, off
the event loop, under the login throttle, so wrong guesses count as failed logins of the account.

The body is the app's update schema plus ``current_password``. The route hands the manager an
instance of the app's own schema without it, so the password reaches neither the
``on_after_update`` hook nor the database.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field, SecretStr, create_model

from fastapi_userkit import schemas
from fastapi_userkit.exceptions import CurrentPasswordInvalid, CurrentPasswordRequired
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.ratelimit.limiter import FlowGuard

__all__ = ["CURRENT_PASSWORD_FIELD", "check_current_password", "with_current_password", "without_current_password"]

CURRENT_PASSWORD_FIELD = "current_password"  # noqa: S105 - a field name, not a password
# The fields whose change needs the current password: what signs in, and where a reset goes.
_PROTECTED_FIELDS = ("email", "password")


def with_current_password(user_update_schema: type[schemas.UU]) -> type[BaseModel]:
    """The app's update schema plus an optional, write-only ``current_password``."""
    return create_model(
        f"{user_update_schema.__name__}WithCurrentPassword",
        __base__=user_update_schema,
        current_password=(
            SecretStr | None,
            Field(default=None, description="Required to change the e-mail or the password."),
        ),
    )


def without_current_password(body: BaseModel, user_update_schema: type[schemas.UU]) -> schemas.UU:
    """The body as an instance of the app's own schema, ``current_password`` left out.

    Built from the already validated values (no second validation), with the same fields set,
    so the manager's ``exclude_unset`` update sees exactly what the client sent.
    """
    values = {name: getattr(body, name) for name in body.model_fields_set if name != CURRENT_PASSWORD_FIELD}
    values.update(body.model_extra or {})
    return user_update_schema.model_construct(_fields_set=set(values), **values)


def changes_protected_fields(body: BaseModel) -> bool:
    """Whether the body changes the e-mail or the password (``null`` changes nothing)."""
    return any(name in body.model_fields_set and getattr(body, name) is not None for name in _PROTECTED_FIELDS)


async def check_current_password(
    guard: FlowGuard, request: Request, user_manager: BaseUserManager[UP, ID], user: UP, body: BaseModel
) -> None:
    """Refuse a change of e-mail or password without the right current password.

    Raises:
        CurrentPasswordRequired: The body changes the e-mail or the password without
            ``current_password`` (``400 UPDATE_USER_CURRENT_PASSWORD_REQUIRED`` through the table).
        CurrentPasswordInvalid: It is wrong (counted as a failed login; ``400
            UPDATE_USER_CURRENT_PASSWORD_INVALID``).
        RateLimited: The login guard's refusal while the account waits out its failures
            (``429`` through the table).
    """
    if not changes_protected_fields(body):
        return
    current: SecretStr | None = getattr(body, CURRENT_PASSWORD_FIELD)
    if current is None:
        raise CurrentPasswordRequired()
    async with guard.attempt(request, user_manager, user.email):
        # The login's own check: one Argon2 run in a worker thread, the hash upgraded if due.
        credentials = OAuth2PasswordRequestForm(username=user.email, password=current.get_secret_value())
        verified = await user_manager.authenticate(credentials)
        if verified is not None and verified.id == user.id:
            return
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_FAILED,
            request,
            user_id=user.id,
            outcome=SecurityEventOutcome.FAILURE,
            details={"reason": "current_password"},
        )
        raise CurrentPasswordInvalid()
