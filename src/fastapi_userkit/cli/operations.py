"""What the user commands do, as async functions on a :class:`UserkitCLIConfig` (no terminal I/O)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, true

from fastapi_userkit.cli._errors import CLIError
from fastapi_userkit.cli.config import UserkitCLIConfig
from fastapi_userkit.db import SQLAlchemyUserDatabase, now_utc
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.schemas import BaseUserCreate, BaseUserUpdate

__all__ = [
    "UserPage",
    "create_user",
    "delete_user",
    "list_users",
    "manager_session",
    "purge_tokens",
    "set_active",
    "set_password",
]


@asynccontextmanager
async def manager_session(config: UserkitCLIConfig) -> AsyncIterator[BaseUserManager[Any, Any]]:
    """A user manager on a fresh session of the application's database."""
    async with config.get_session_maker()() as session:
        yield config.make_user_manager(SQLAlchemyUserDatabase(session, config.user_model))


async def create_user(
    config: UserkitCLIConfig, email: str, password: str, *, superuser: bool = False, verified: bool = False
) -> Any:
    """Create an active user through the application's manager (policy, hashing and hooks apply).

    Raises:
        ValidationError: The e-mail address is malformed.
        InvalidPasswordException: The password policy refused the password.
        UserAlreadyExists: The address is taken.
    """
    user_create = BaseUserCreate(email=email, password=password, is_superuser=superuser, is_verified=verified)
    async with manager_session(config) as manager:
        return await manager.create(user_create, safe=False)


async def set_password(config: UserkitCLIConfig, email: str, password: str) -> Any:
    """Set a user's password; the manager's update also ends their sessions.

    Raises:
        UserNotExists: No user has this address.
        InvalidPasswordException: The password policy refused the password.
    """
    async with manager_session(config) as manager:
        user = await manager.get_by_email(email)
        return await manager.update(BaseUserUpdate(password=password), user, safe=False)


async def set_active(config: UserkitCLIConfig, email: str, *, active: bool) -> Any:
    """Deactivate (or reactivate) a user; deactivation ends their sessions for good.

    The manager deletes the user's access-token and refresh-session rows and ends the tokens
    of the config's ``session_strategies`` and ``session_stores``, so a later reactivation
    revives none of them (issue 16, item 8).

    Raises:
        UserNotExists: No user has this address.
    """
    async with manager_session(config) as manager:
        user = await manager.get_by_email(email)
        return await manager.update(BaseUserUpdate(is_active=active), user, safe=False)


async def delete_user(config: UserkitCLIConfig, email: str) -> Any:
    """Delete a user through the application's manager (hooks run, sessions end first).

    Raises:
        UserNotExists: No user has this address.
    """
    async with manager_session(config) as manager:
        user = await manager.get_by_email(email)
        await manager.delete(user)
        return user


@dataclass(frozen=True)
class UserPage:
    """One page of users, ordered by e-mail address."""

    users: list[Any]
    page: int
    pages: int
    total: int


async def list_users(config: UserkitCLIConfig, *, page: int, page_size: int, search: str | None = None) -> UserPage:
    """Return page ``page`` (from 1) of the users whose address contains ``search``."""
    table: Any = config.user_model
    condition = true() if search is None else func.lower(table.email).contains(search.lower(), autoescape=True)
    async with config.get_session_maker()() as session:
        total = int((await session.execute(select(func.count()).select_from(table).where(condition))).scalar_one())
        statement = select(table).where(condition).order_by(table.email).offset((page - 1) * page_size).limit(page_size)
        users = list((await session.execute(statement)).unique().scalars())
    return UserPage(users, page, max(1, math.ceil(total / page_size)), total)


async def purge_tokens(config: UserkitCLIConfig, lifetime_seconds: int) -> int:
    """Delete the database access tokens older than ``lifetime_seconds``; return how many.

    Raises:
        CLIError: The config names no access-token model.
    """
    if config.access_token_model is None:
        raise CLIError("purge-tokens needs access_token_model in the UserkitCLIConfig")
    cutoff = now_utc() - timedelta(seconds=lifetime_seconds)
    async with config.get_session_maker()() as session:
        token_db: SQLAlchemyAccessTokenDatabase[Any] = SQLAlchemyAccessTokenDatabase(session, config.access_token_model)
        return await token_db.delete_expired(cutoff)
