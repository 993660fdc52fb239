"""The user manager, the JWT backend and the FastAPIUsers object.

The hooks print reset and verification tokens to the console: the demo's mailer.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncGenerator

from fastapi import Depends, Request

from demo.db import User, get_user_db
from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase

logger = logging.getLogger("demo")

SECRET = os.environ.get("USERKIT_DEMO_SECRET", "demo-secret-change-me-in-production-0123456789")


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.warning("User %s has registered.", user.id)

    async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
        logger.warning("User %s has forgot their password. Reset token: %s", user.id, token)

    async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
        logger.warning("Verification requested for user %s. Verification token: %s", user.id, token)


async def get_user_manager(
    user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = Depends(get_user_db),
) -> AsyncGenerator[UserManager, None]:
    yield UserManager(user_db)


bearer_transport = BearerTransport(tokenUrl="auth/jwt/login")


def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


auth_backend = AuthenticationBackend(
    name="jwt",
    transport=bearer_transport,
    get_strategy=get_jwt_strategy,
)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

current_active_user = fastapi_users.current_user(active=True)
