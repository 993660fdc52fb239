"""What is written to a user row, validated: a new user's columns, and an update.

* A client's explicit ``null`` for a column that can never be NULL means "leave it" (FastAPI
  Users answered ``{"email": null}`` with a 500; DESIGN.md, difference 1).
* A new e-mail address must be free, and makes the user unverified again.
* A new password passes the size guard and ``validate_password`` (the manager's, so an
  application's override applies), then is hashed with no database connection held.
* With ``expected``, the write happens only if those columns still hold what the caller read
  (:class:`~fastapi_userkit.db.base.ConditionalUserUpdate`; single-use tokens, issue 22).
* Hooks never see a plaintext password: :func:`redacted` replaces it (DESIGN.md, difference 8).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic

from fastapi_userkit import exceptions
from fastapi_userkit._services.passwords import Passwords
from fastapi_userkit.db.base import BaseUserDatabase, ConditionalUserUpdate
from fastapi_userkit.models import ID, UP
from fastapi_userkit.schemas import BaseUserCreate, BaseUserUpdate

__all__ = ["NON_NULLABLE", "REDACTED", "UserWrites", "redacted", "update_dict_of"]

NON_NULLABLE = ("email", "password", "is_active", "is_superuser", "is_verified")
"""Columns that can never be NULL: a client's explicit null for one of them means "leave it"."""

REDACTED = "**********"
"""What ``on_after_update`` receives in place of a new password."""

PasswordValidator = Callable[[str, Any], Awaitable[None]]


def update_dict_of(user_update: BaseUserUpdate, safe: bool) -> dict[str, Any]:
    """The fields an update sets; ``safe`` drops the privileged ones (``PATCH /users/me``)."""
    return user_update.create_update_dict() if safe else user_update.create_update_dict_superuser()


def redacted(update_dict: dict[str, Any]) -> dict[str, Any]:
    """``update_dict`` as the hooks see it: a new password shows as :data:`REDACTED`."""
    return {key: (REDACTED if key == "password" else value) for key, value in update_dict.items()}


@dataclass(frozen=True)
class UserWrites(Generic[UP, ID]):
    """Validates and writes users.

    Args:
        user_db: The user storage.
        passwords: The size guard and hashing.
        validate_password: The manager's ``validate_password`` (an override applies).
    """

    user_db: BaseUserDatabase[UP, ID]
    passwords: Passwords
    validate_password: PasswordValidator

    async def create(self, user_create: BaseUserCreate, *, safe: bool) -> UP:
        """Write a new user (contract order: password checks, address check, hash, insert).

        Raises:
            InvalidPasswordException: The password was refused.
            UserAlreadyExists: The address is taken (also when a concurrent registration wins
                the race: the database's unique index decides).
        """
        self.passwords.check_size(user_create.password)
        await self.validate_password(user_create.password, user_create)
        if await self.user_db.get_by_email(user_create.email) is not None:
            raise exceptions.UserAlreadyExists()
        user_dict = user_create.create_update_dict() if safe else user_create.create_update_dict_superuser()
        user_dict = {key: value for key, value in user_dict.items() if not (key in NON_NULLABLE and value is None)}
        user_dict["hashed_password"] = await self.passwords.hash(user_dict.pop("password"))
        return await self.user_db.create(user_dict)

    async def update(
        self, user: UP, update_dict: dict[str, Any], *, expected: dict[str, Any] | None = None
    ) -> UP | None:
        """Validate and write ``update_dict``; with ``expected``, only if those columns still hold it.

        Returns:
            The updated user; ``None`` when ``expected`` no longer held (a storage without
            :class:`~fastapi_userkit.db.base.ConditionalUserUpdate` writes unconditionally).

        Raises:
            UserAlreadyExists: The new address belongs to another user.
            InvalidPasswordException: The new password was refused.
        """
        validated: dict[str, Any] = {}
        for field, value in update_dict.items():
            if field in NON_NULLABLE and value is None:
                continue
            if field == "email":
                if value != user.email:
                    owner = await self.user_db.get_by_email(value)
                    if owner is not None and owner.id != user.id:
                        raise exceptions.UserAlreadyExists()
                    validated["email"] = value
                    validated["is_verified"] = False
            elif field == "password":
                self.passwords.check_size(value)
                await self.validate_password(value, user)
                validated["hashed_password"] = await self.passwords.hash(value)
            else:
                validated[field] = value
        if expected is not None and isinstance(self.user_db, ConditionalUserUpdate):
            updated: UP | None = await self.user_db.update_if(user, expected, validated)
            return updated
        return await self.user_db.update(user, validated)
