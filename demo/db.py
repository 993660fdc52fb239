"""Database: the User table from the mixin, the engine, and the session dependencies."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from fastapi_userkit.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_userkit.db.sessions import SQLAlchemyBaseRefreshTokenTable, SQLAlchemyBaseSessionTableUUID
from fastapi_userkit.email_auth import SQLAlchemyBaseEmailChangeTableUUID, SQLAlchemyBaseEmailSignInTableUUID
from fastapi_userkit.mfa import (
    SQLAlchemyBaseMFAChallengeTableUUID,
    SQLAlchemyBaseRecoveryCodeTableUUID,
    SQLAlchemyBaseTOTPTableUUID,
)
from fastapi_userkit.passkeys import SQLAlchemyBasePasskeyChallengeTable, SQLAlchemyBasePasskeyTableUUID

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./demo.db")


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class UserSession(SQLAlchemyBaseSessionTableUUID, Base):
    """The account pages' sign-in sessions: "Sign out" ends one, and its cookies with it."""


class RefreshToken(SQLAlchemyBaseRefreshTokenTable, Base):
    pass


class TOTPFactor(SQLAlchemyBaseTOTPTableUUID, Base):
    """Two-factor sign-in: each user's TOTP key, encrypted."""


class RecoveryCode(SQLAlchemyBaseRecoveryCodeTableUUID, Base):
    """Two-factor sign-in: digests of the recovery codes."""


class MFAChallenge(SQLAlchemyBaseMFAChallengeTableUUID, Base):
    """Two-factor sign-in: logins waiting for their code."""


class EmailSignIn(SQLAlchemyBaseEmailSignInTableUUID, Base):
    """Sign-in by e-mail: the e-mails waiting for their link or code (digests only)."""


class EmailChange(SQLAlchemyBaseEmailChangeTableUUID, Base):
    """The confirmed e-mail change: changes waiting for the new address, and their revert links."""


class Passkey(SQLAlchemyBasePasskeyTableUUID, Base):
    """Passkeys: each user's WebAuthn credentials (public keys only)."""


class PasskeyChallenge(SQLAlchemyBasePasskeyChallengeTable, Base):
    """Passkeys: digests of the ceremonies' live challenges."""


engine = create_async_engine(DATABASE_URL)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def create_db_and_tables() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(
    session: AsyncSession = Depends(get_async_session),
) -> AsyncGenerator[SQLAlchemyUserDatabase[User, object], None]:
    yield SQLAlchemyUserDatabase(session, User)
