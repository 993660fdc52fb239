"""An application as an app author writes one, tested in ``tests/testing`` only through the plugin.

Two backends (bearer with database tokens, cookie JWT with CSRF token mode), account e-mails, SQL rate limits,
and the plugin's clock wired into the strategies and the rate limits.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_userkit.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    DatabaseStrategy,
    JWTStrategy,
)
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.mail import AccountMailer, ConsoleMailer
from fastapi_userkit.mfa import MFA, ChallengeStore, MFAStore, SQLAlchemyChallengeStore, SQLAlchemyMFAStore
from fastapi_userkit.security import CSRFSettings, RateLimitSettings, SecuritySettings, SQLRateLimitBackend
from fastapi_userkit.testing import FrozenClock, UserkitTestApp
from tests.app_factory import SECRET, UserCreate, UserRead, UserUpdate, fast_password_helper
from tests.conftest import SessionMaker
from tests.models import AccessToken, MFAChallenge, RecoveryCode, TOTPFactor, User

MFA_KEY = "shop-two-factor-key-of-at-least-32-bytes"


def build(session_maker: SessionMaker, clock: FrozenClock, *, two_factor: bool = False) -> UserkitTestApp:
    """The shop application on ``session_maker``'s database, its time read from ``clock``.

    With ``two_factor``, ``FastAPIUsers(mfa=...)`` over the test tables and ``/users/me/mfa``.
    """
    engine: Any = session_maker.kw["bind"]
    account_mailer = AccountMailer(
        ConsoleMailer(io.StringIO()),
        sender="Shop <no-reply@shop.example>",
        verify_url="https://shop.example/verify?token={token}",
        reset_url="https://shop.example/reset-password?token={token}&from=mail",
    )

    class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
        reset_password_token_secret = SECRET
        verification_token_secret = SECRET
        mailer = account_mailer

    async def get_session() -> AsyncGenerator[AsyncSession, None]:
        async with session_maker() as session:
            yield session

    async def get_user_db(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
    ) -> AsyncGenerator[Any, None]:
        yield SQLAlchemyUserDatabase(session, User)

    async def get_user_manager(
        user_db: Any = Depends(get_user_db),  # noqa: B008 - FastAPI's documented style
    ) -> AsyncGenerator[UserManager, None]:
        yield UserManager(user_db, fast_password_helper())

    def get_access_token_db(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
    ) -> SQLAlchemyAccessTokenDatabase[AccessToken]:
        return SQLAlchemyAccessTokenDatabase(session, AccessToken)

    def get_database_strategy(
        access_token_db: Any = Depends(get_access_token_db),  # noqa: B008 - FastAPI's documented style
    ) -> DatabaseStrategy[User, uuid.UUID, AccessToken]:
        return DatabaseStrategy(access_token_db, lifetime_seconds=60, clock=clock)

    def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, lifetime_seconds=60, clock=clock)

    bearer = AuthenticationBackend("jwt", BearerTransport("auth/jwt/login"), get_database_strategy)
    cookie = AuthenticationBackend("cookie", CookieTransport(cookie_max_age=60), get_jwt_strategy)
    security = SecuritySettings(
        csrf=CSRFSettings(mode="token", token_secret=SECRET),
        rate_limit=RateLimitSettings(backend=SQLRateLimitBackend(engine), clock=clock.time),
    )

    async def get_mfa_store(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
    ) -> MFAStore:
        return SQLAlchemyMFAStore(session, TOTPFactor, RecoveryCode)

    async def get_challenge_store(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
    ) -> ChallengeStore:
        return SQLAlchemyChallengeStore(session, MFAChallenge)

    mfa = (
        MFA(
            secrets=[MFA_KEY],
            get_store=get_mfa_store,
            get_challenge_store=get_challenge_store,
            issuer="Shop",
            clock=clock,
        )
        if two_factor
        else None
    )
    fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [bearer, cookie], security=security, mfa=mfa)

    app = FastAPI()
    app.include_router(fastapi_users.get_auth_router(bearer), prefix="/auth/jwt")
    app.include_router(fastapi_users.get_auth_router(cookie), prefix="/auth/cookie")
    app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth")
    app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth")
    app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth")
    app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users")
    if two_factor:
        app.include_router(fastapi_users.get_mfa_router(), prefix="/users")
    return UserkitTestApp(
        app=app, fastapi_users=fastapi_users, account_mailer=account_mailer, engine=engine, user_create=UserCreate
    )
