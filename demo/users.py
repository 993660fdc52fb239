"""The user manager, the JWT backends (bearer and cookie) and the FastAPIUsers object.

The demo's mailer prints the account e-mails (verification and reset links) to the console.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

from fastapi import Depends, Request

from demo.db import (
    MFAChallenge,
    RecoveryCode,
    RefreshToken,
    TOTPFactor,
    User,
    UserSession,
    async_session_maker,
    get_user_db,
)
from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, CookieTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.mail import AccountMailer, ConsoleMailer
from fastapi_userkit.mfa import MFA, ChallengeStore, MFAStore, SQLAlchemyChallengeStore, SQLAlchemyMFAStore
from fastapi_userkit.sessions import RefreshSettings

logger = logging.getLogger("demo")

SECRET = os.environ.get("USERKIT_DEMO_SECRET", "demo-secret-change-me-in-production-0123456789")
# Where the browser reaches the demo: the e-mailed links point there.
BASE_URL = os.environ.get("USERKIT_DEMO_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

account_mailer = AccountMailer(
    ConsoleMailer(),
    sender="fastapi-userkit demo <no-reply@example.com>",
    verify_url=f"{BASE_URL}/account/verify?token={{token}}",
    reset_url=f"{BASE_URL}/account/reset-password?token={{token}}",
    app_name="fastapi-userkit demo",
)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET
    mailer = account_mailer

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.warning("User %s has registered.", user.id)


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

# The account pages sign users in with a cookie; Secure only when the demo is served over HTTPS.
# Refresh on: each sign-in is a session that "Sign out" ends, with every cookie issued for it.
cookie_backend = AuthenticationBackend(
    name="cookie",
    transport=CookieTransport(cookie_max_age=3600, cookie_secure=BASE_URL.startswith("https://")),
    get_strategy=get_jwt_strategy,
    refresh=RefreshSettings(
        store=SQLAlchemySessionStore(async_session_maker, UserSession, RefreshToken), secret=SECRET
    ),
)


async def get_mfa_store() -> AsyncIterator[MFAStore]:
    async with async_session_maker() as session:
        yield SQLAlchemyMFAStore(session, TOTPFactor, RecoveryCode)


async def get_challenge_store() -> AsyncIterator[ChallengeStore]:
    async with async_session_maker() as session:
        yield SQLAlchemyChallengeStore(session, MFAChallenge)


# Two-factor sign-in (TOTP and recovery codes): the account page's "Set up two-factor sign-in".
# The key encrypts the TOTP secrets at rest; list a new one first to rotate.
mfa = MFA(
    secrets=[os.environ.get("USERKIT_DEMO_MFA_KEY", "demo-mfa-key-change-me-in-production-0123456789")],
    get_store=get_mfa_store,
    get_challenge_store=get_challenge_store,
    issuer="fastapi-userkit demo",
    # How recent a two-factor sign-in must be for a sensitive change (the browser test shortens it).
    step_up_within=int(os.environ.get("USERKIT_DEMO_STEP_UP_WITHIN", "300")),
)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend, cookie_backend], mfa=mfa)

current_active_user = fastapi_users.current_user(active=True)
