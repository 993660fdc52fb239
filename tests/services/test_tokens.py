"""The token service reaches the manager's overridable steps: an application's ``parse_id`` and ``_update`` apply."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fastapi_userkit import BaseUserManager, UUIDIDMixin, exceptions
from fastapi_userkit.db import SQLAlchemyUserDatabase
from tests.app_factory import SECRET, UserCreate, fast_password_helper
from tests.conftest import EngineFactory, reset_schema
from tests.models import Base, OAuthAccount, User


class RecordingUserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """An application's manager that overrides the id parser and the write step, and keeps its tokens."""

    reset_password_token_secret = SECRET
    verification_token_secret = SECRET

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[dict[str, Any] | None] = []
        self.parsed: list[Any] = []
        self.tokens: list[str] = []

    def parse_id(self, value: Any) -> uuid.UUID:
        self.parsed.append(value)
        return super().parse_id(value)

    async def _update(self, user: User, update_dict: dict[str, Any], *, expected: dict[str, Any] | None = None) -> Any:
        self.writes.append(expected)
        if expected is None:
            return await super()._update(user, update_dict)
        return await super()._update(user, update_dict, expected=expected)

    async def on_after_request_verify(self, user: User, token: str, request: Any = None) -> None:
        self.tokens.append(token)

    async def on_after_forgot_password(self, user: User, token: str, request: Any = None) -> None:
        self.tokens.append(token)


@pytest.fixture
async def manager(engine_for: EngineFactory) -> AsyncIterator[RecordingUserManager]:
    """The recording manager on a fresh SQLite schema."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, Base.metadata)
    session: AsyncSession
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield RecordingUserManager(SQLAlchemyUserDatabase(session, User, OAuthAccount), fast_password_helper())


async def test_verify_goes_through_the_applications_parse_id_and_update(manager: RecordingUserManager) -> None:
    """verify() parses the token's id with the app's parse_id and writes through its _update, conditionally."""
    user = await manager.create(UserCreate(email="kay@camelot.bt", password="a long passphrase"))
    await manager.request_verify(user)

    verified = await manager.verify(manager.tokens[-1])

    assert verified.is_verified
    assert manager.parsed == [str(user.id)]
    assert manager.writes == [{"is_verified": False}]


async def test_reset_goes_through_the_applications_parse_id_and_update(manager: RecordingUserManager) -> None:
    """reset_password() writes through the app's _update if the hash is still the token's; the token is then spent."""
    user = await manager.create(UserCreate(email="kay@camelot.bt", password="a long passphrase"))
    old_hash = user.hashed_password
    await manager.forgot_password(user)

    await manager.reset_password(manager.tokens[-1], "another long passphrase")

    assert manager.parsed == [str(user.id)]
    assert manager.writes == [{"hashed_password": old_hash}]
    with pytest.raises(exceptions.InvalidResetPasswordToken):
        await manager.reset_password(manager.tokens[-1], "a third long passphrase")
