"""The look-alike ``201`` body of a registration whose address already has an account.

With ``hide_existing_users`` on, ``POST /register`` answers a taken address exactly as it
answers a new one (OWASP ASVS 5.0 6.3.8; FastAPI Users #1161): ``201`` with a user-shaped body
built from the request, under a random id that exists nowhere. The conflict itself (the equal
hashing cost, the owner's notice) is handled by :mod:`fastapi_userkit._services.registration`.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from fastapi_userkit import schemas

__all__ = ["look_alike_user"]

_INT32_MAX = 2**31 - 1


def look_alike_user(user_create: schemas.BaseUserCreate, user_schema: type[schemas.U], existing: Any) -> schemas.U:
    """The body a new registration of ``user_create`` would get, under an id of the existing user's type.

    Raises:
        pydantic.ValidationError: Never for the documented schemas; an app's read schema with a
            required field the create schema lacks cannot be answered without a real user.
    """
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
