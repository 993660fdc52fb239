"""The manager's OAuth account logic against the real adapter, below the HTTP layer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.db import BaseUserDatabase, SQLAlchemyUserDatabase
from fastapi_userkit.exceptions import OAuthAccountAlreadyLinked
from tests.app_factory import HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User


class _TwoStepUserDatabase(BaseUserDatabase[User, uuid.UUID]):
    """A third-party-style adapter: only FastAPI Users' methods (no one-transaction create, no unlink).

    It stores through the SQLAlchemy adapter, so the data still lands in the real database.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.inner = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)

    async def get_by_email(self, email: str) -> User | None:
        """Delegate to the SQLAlchemy adapter."""
        return await self.inner.get_by_email(email)

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> User | None:
        """Delegate to the SQLAlchemy adapter."""
        return await self.inner.get_by_oauth_account(oauth, account_id)

    async def create(self, create_dict: dict[str, Any]) -> User:
        """Delegate to the SQLAlchemy adapter."""
        return await self.inner.create(create_dict)

    async def add_oauth_account(self, user: User, create_dict: dict[str, Any]) -> User:
        """Delegate to the SQLAlchemy adapter."""
        return await self.inner.add_oauth_account(user, create_dict)


def _account(account_id: str = "1001", email: str = "alice@example.com") -> dict[str, Any]:
    return {
        "oauth_name": "fake",
        "access_token": "at",
        "account_id": account_id,
        "account_email": email,
        "expires_at": None,
        "refresh_token": None,
    }


async def test_user_and_account_are_one_transaction(http_db: SessionMaker) -> None:
    """When the account cannot be inserted, the new user is not left behind either."""
    async with http_db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        await user_db.create_with_oauth_account({"email": "alice@example.com", "hashed_password": "!x"}, _account())

        with pytest.raises(OAuthAccountAlreadyLinked):
            await user_db.create_with_oauth_account({"email": "bob@example.com", "hashed_password": "!y"}, _account())

        assert await user_db.get_by_email("bob@example.com") is None


async def test_adapters_without_the_one_transaction_create_still_work(http_db: SessionMaker) -> None:
    """An adapter lacking create_with_oauth_account gets the user and the account in two writes."""
    async with http_db() as session:
        manager = make_user_manager_class(HookLog())(_TwoStepUserDatabase(session), fast_password_helper())

        user = await manager.oauth_callback("fake", "at", "1001", "alice@example.com")

        assert [a.account_id for a in user.oauth_accounts] == ["1001"]


async def test_unlink_needs_an_adapter_that_can_remove_accounts(http_db: SessionMaker) -> None:
    """Unlinking through an adapter without remove_oauth_account raises NotImplementedError."""
    async with http_db() as session:
        manager = make_user_manager_class(HookLog())(_TwoStepUserDatabase(session), fast_password_helper())
        user = await manager.oauth_callback("fake", "at", "1001", "alice@example.com")

        with pytest.raises(NotImplementedError, match="cannot remove OAuth accounts"):
            await manager.oauth_unlink(user, "fake", "1001")
