"""SQLAlchemyUserDatabase on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid

import pytest

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.exceptions import UserAlreadyExists
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User


async def test_create_get_update_delete(db: SessionMaker) -> None:
    """A user round-trips through create, get, get_by_email, update and delete."""
    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        user = await user_db.create({"email": "Lancelot@camelot.bt", "hashed_password": "h"})

        assert isinstance(user.id, uuid.UUID)
        assert user.is_active is True
        assert (await user_db.get(user.id)) is user
        assert (await user_db.get_by_email("LANCELOT@CAMELOT.BT")) is user

        updated = await user_db.update(user, {"first_name": "Lance"})
        assert updated.first_name == "Lance"

        await user_db.delete(user)
        assert await user_db.get(user.id) is None


async def test_email_is_unique_case_insensitively(db: SessionMaker) -> None:
    """Inserting an e-mail that differs only in case raises UserAlreadyExists."""
    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User)
        await user_db.create({"email": "galahad@camelot.bt", "hashed_password": "h"})

        with pytest.raises(UserAlreadyExists):
            await user_db.create({"email": "GALAHAD@camelot.bt", "hashed_password": "h"})


async def test_update_to_taken_email_raises(db: SessionMaker) -> None:
    """Updating to another user's e-mail raises UserAlreadyExists and leaves both users intact."""
    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User)
        await user_db.create({"email": "percival@camelot.bt", "hashed_password": "h"})
        other = await user_db.create({"email": "bors@camelot.bt", "hashed_password": "h"})

        with pytest.raises(UserAlreadyExists):
            await user_db.update(other, {"email": "Percival@camelot.bt"})

        assert other.email == "bors@camelot.bt"
        assert (await user_db.get_by_email("bors@camelot.bt")) is other
