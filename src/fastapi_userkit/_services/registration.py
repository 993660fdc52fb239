"""Registration with its conflict handling, written once for ``POST /register`` and the sign-up page.

With ``hide_existing_users`` on, a taken address is answered like a new one (OWASP ASVS 5.0
6.3.8; FastAPI Users #1161): the caller gets no user and shows its usual success, the submitted
password is hashed as a real registration would hash it so the time taken tells nothing, and the
owner is told out of band, after the response (``on_registration_conflict`` and the security
event). The database's unique index decides which of two racing registrations wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic

from fastapi import BackgroundTasks, Request

from fastapi_userkit import exceptions, schemas
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._background import after_response
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.password_hashing import hash_normalized_password

__all__ = ["Registration", "register"]


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


async def _notify_owner(user_manager: BaseUserManager[UP, ID], existing: UP, request: Request) -> None:
    await user_manager.emit_security_event(
        SecurityEventType.REGISTRATION_CONFLICT,
        request,
        user_id=existing.id,
        outcome=SecurityEventOutcome.FAILURE,
    )
    await user_manager.on_registration_conflict(existing, request)
