"""Registration with its conflict handling, written once for ``POST /register`` and the sign-up page.

With ``hide_existing_users`` on, a taken address is answered like a new one (OWASP ASVS 5.0
6.3.8; FastAPI Users #1161): the caller gets no user and shows its usual success, the submitted
password is hashed as a real registration would hash it so the time taken tells nothing, and the
owner is told out of band, after the response (``on_registration_conflict`` and the security
event). The database's unique index decides which of two racing registrations wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic

from fastapi import BackgroundTasks, Request

from fastapi_userkit import exceptions, schemas
from fastapi_userkit._oauth_accounts import make_unusable_password
from fastapi_userkit._services.updates import NON_NULLABLE
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._background import after_response
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.password_hashing import hash_normalized_password

__all__ = ["Registration", "register", "register_passwordless"]


@dataclass(frozen=True)
class Registration(Generic[UP]):
    """What a registration did."""

    user: UP | None
    """The new user; ``None`` when the address was taken and the conflict is hidden."""

    existing: UP | None = None
    """The owner of a taken address (for the caller's look-alike answer; never shown as such)."""


async def register(
    user_manager: BaseUserManager[UP, ID],
    user_create: schemas.BaseUserCreate,
    request: Request,
    background_tasks: BackgroundTasks,
    *,
    hide_existing_users: bool,
) -> Registration[UP]:
    """Create the user, or, with ``hide_existing_users``, absorb a taken address.

    Raises:
        UserAlreadyExists: The address is taken and ``hide_existing_users`` is off.
        InvalidPasswordException: The password policy refused the password.
        InvalidUserData: The database refused a value.
    """
    try:
        return Registration(await user_manager.create(user_create, safe=True, request=request))
    except exceptions.UserAlreadyExists:
        if not hide_existing_users:
            raise
    try:
        existing: UP | None = await user_manager.get_by_email(user_create.email)
    except exceptions.UserNotExists:  # deleted meanwhile: nobody to tell
        existing = None
    await hash_normalized_password(user_manager.password_helper, user_create.password)
    if existing is not None:
        background_tasks.add_task(after_response(_notify_owner), user_manager, existing, request)
    return Registration(None, existing)


async def register_passwordless(
    user_manager: BaseUserManager[UP, ID],
    fields: schemas.CreateUpdateDictModel,
    request: Request | None,
    *,
    user_id: Any,
    then: Callable[[UP], Awaitable[Any]],
) -> UP:
    """Create a user without a password (a passkey sign-up), under ``user_id``; then run ``then``.

    ``fields`` are the app's create schema's fields without the password (the e-mail address
    already normalised and its look-alikes refused by the schema; the privileged flags dropped
    as the register route drops them). The user gets an unusable password marker, like a user
    created by OAuth. ``then`` (storing the passkey) runs after the insert and before anything
    is announced: if it raises, the user is deleted again and the error propagates, so no account
    is left without its way in. Then the ``registered`` security event and ``on_after_register``.

    Raises:
        UserAlreadyExists: The address is taken (the database's unique index decides races).
        InvalidUserData: The database refused a value.
    """
    email = getattr(fields, "email", "")
    if await user_manager.user_db.get_by_email(email) is not None:
        raise exceptions.UserAlreadyExists()
    user_dict = {
        key: value
        for key, value in fields.create_update_dict().items()
        if key != "password" and not (key in NON_NULLABLE and value is None)
    }
    user_dict["id"] = user_id
    user_dict["hashed_password"] = make_unusable_password()
    user: UP = await user_manager.user_db.create(user_dict)
    try:
        await then(user)
    except Exception:
        await user_manager.user_db.delete(user)
        raise
    await user_manager.emit_security_event(
        SecurityEventType.REGISTERED, request, user_id=user.id, details={"method": "passkey"}
    )
    await user_manager.on_after_register(user, request)
    return user


async def _notify_owner(user_manager: BaseUserManager[UP, ID], existing: UP, request: Request) -> None:
    await user_manager.emit_security_event(
        SecurityEventType.REGISTRATION_CONFLICT,
        request,
        user_id=existing.id,
        outcome=SecurityEventOutcome.FAILURE,
    )
    await user_manager.on_registration_conflict(existing, request)
