"""The enumeration-safe answer to registering an address that already has an account.

With ``hide_existing_users`` on, ``POST /register`` answers a taken address exactly as it
answers a new one (OWASP ASVS 5.0 6.3.8; FastAPI Users #1161): ``201`` with a user-shaped body
built from the request, under a random id that exists nowhere. The cost is equalised too: the
submitted password is hashed as a real registration would hash it. The owner is told out of
band: ``on_registration_conflict`` and the security event run after the response is sent.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from fastapi import BackgroundTasks, Request

from fastapi_userkit import schemas
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._background import after_response
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.password_hashing import hash_normalized_password

__all__ = ["answer_registration_conflict"]

_INT32_MAX = 2**31 - 1


async def answer_registration_conflict(
    user_manager: BaseUserManager[UP, ID],
    user_create: schemas.BaseUserCreate,
    user_schema: type[schemas.U],
    request: Request,
    background_tasks: BackgroundTasks,
) -> schemas.U:
    """Return the look-alike ``201`` body and schedule the owner's notification.

    Raises:
        pydantic.ValidationError: Never for the documented schemas; an app's read schema with a
            required field the create schema lacks cannot be answered without a real user.
    """
    existing = await user_manager.user_db.get_by_email(user_create.email)
    await hash_normalized_password(user_manager.password_helper, user_create.password)
    if existing is not None:
        background_tasks.add_task(after_response(_notify_owner), user_manager, existing, request)
    fake_id: Any = secrets.randbelow(_INT32_MAX) + 1 if isinstance(getattr(existing, "id", None), int) else uuid.uuid4()
    body = {
        "is_active": True,
        "is_superuser": False,
        "is_verified": False,
        **user_create.create_update_dict(),
        "id": fake_id,
        "email": user_create.email,
    }
    body.pop("password", None)
    return user_schema.model_validate(body)


async def _notify_owner(user_manager: BaseUserManager[UP, ID], existing: UP, request: Request) -> None:
    await user_manager.emit_security_event(
        SecurityEventType.REGISTRATION_CONFLICT,
        request,
        user_id=existing.id,
        outcome=SecurityEventOutcome.FAILURE,
    )
    await user_manager.on_registration_conflict(existing, request)
