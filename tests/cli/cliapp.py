"""The application the CLI tests point ``--app`` at; its database URL comes from the test's environment."""

from __future__ import annotations

import os
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

from fastapi_userkit import BaseUserManager, UUIDIDMixin
from fastapi_userkit.cli import UserkitCLIConfig
from fastapi_userkit.db import SQLAlchemyBaseUserTableUUID
from tests.app_factory import SECRET, fast_password_helper
from tests.models import AccessToken, User

URL_VARIABLE = "USERKIT_TEST_DATABASE_URL"


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """The test application's manager (default password policy, fast hashing)."""

    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


def make_manager(user_db: Any) -> BaseUserManager[Any, Any]:
    """The manager factory the config hands to the CLI."""
    return UserManager(user_db, fast_password_helper())


def config() -> UserkitCLIConfig:
    """The full config: engine, access tokens and the app's manager."""
    engine = create_async_engine(os.environ[URL_VARIABLE], poolclass=NullPool)
    return UserkitCLIConfig(
        user_model=User, engine=engine, access_token_model=AccessToken, user_manager_factory=make_manager
    )


def minimal() -> UserkitCLIConfig:
    """A session maker and the user model only: the CLI's plain manager, no token table."""
    engine = create_async_engine(os.environ[URL_VARIABLE], poolclass=NullPool)
    return UserkitCLIConfig(
        user_model=User,
        session_maker=async_sessionmaker(engine, expire_on_commit=False),
        password_helper=fast_password_helper(),
    )


not_a_config = 42


class GhostBase(DeclarativeBase):
    """Metadata whose table no test database ever holds."""


class GhostUser(SQLAlchemyBaseUserTableUUID, GhostBase):
    """A user model mapped to a table that is never created."""

    __tablename__ = "userkit_cli_ghost_user"


def ghost() -> UserkitCLIConfig:
    """A config whose user table is missing from the database."""
    engine = create_async_engine(os.environ[URL_VARIABLE], poolclass=NullPool)
    return UserkitCLIConfig(user_model=GhostUser, engine=engine)
