"""Mapped classes the tests use, declared the way an application declares them."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from fastapi_userkit.db import (
    SQLAlchemyBaseOAuthAccountTable,
    SQLAlchemyBaseOAuthAccountTableUUID,
    SQLAlchemyBaseUserTable,
    SQLAlchemyBaseUserTableUUID,
)
from fastapi_userkit.db.access_token import SQLAlchemyBaseAccessTokenTable, SQLAlchemyBaseAccessTokenTableUUID
from fastapi_userkit.db.revoked_token import SQLAlchemyBaseRevokedTokenTable
from fastapi_userkit.db.sessions import (
    SQLAlchemyBaseRefreshTokenTable,
    SQLAlchemyBaseSessionTable,
    SQLAlchemyBaseSessionTableUUID,
)
from fastapi_userkit.mfa import (
    SQLAlchemyBaseMFAChallengeTableUUID,
    SQLAlchemyBaseRecoveryCodeTable,
    SQLAlchemyBaseRecoveryCodeTableUUID,
    SQLAlchemyBaseTOTPTable,
    SQLAlchemyBaseTOTPTableUUID,
)


class Base(DeclarativeBase):
    """Metadata of the UUID-id application."""


class OAuthAccount(SQLAlchemyBaseOAuthAccountTableUUID, Base):
    """OAuth accounts of UUID users."""


class User(SQLAlchemyBaseUserTableUUID, Base):
    """A UUID user with a custom column and OAuth accounts."""

    first_name: Mapped[str | None] = mapped_column(String(length=255), nullable=True)
    oauth_accounts: Mapped[list[OAuthAccount]] = relationship("OAuthAccount", lazy="joined")


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    """Database-strategy tokens of UUID users."""


class RevokedToken(SQLAlchemyBaseRevokedTokenTable, Base):
    """Revoked JWTs (for JWT logout and log-out-everywhere)."""


class UserSession(SQLAlchemyBaseSessionTableUUID, Base):
    """Refresh sessions of UUID users."""


class RefreshToken(SQLAlchemyBaseRefreshTokenTable, Base):
    """Digests of the refresh tokens of those sessions."""


class TOTPFactor(SQLAlchemyBaseTOTPTableUUID, Base):
    """TOTP factors of UUID users."""


class RecoveryCode(SQLAlchemyBaseRecoveryCodeTableUUID, Base):
    """Recovery-code digests of UUID users."""


class MFAChallenge(SQLAlchemyBaseMFAChallengeTableUUID, Base):
    """Pending two-factor login challenges of UUID users."""


class IntBase(DeclarativeBase):
    """Metadata of the integer-id application."""


class IntOAuthAccount(SQLAlchemyBaseOAuthAccountTable[int], IntBase):
    """OAuth accounts of integer-id users."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    @declared_attr
    def user_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(Integer, ForeignKey("user.id", ondelete="cascade"), nullable=False)


class IntUser(SQLAlchemyBaseUserTable[int], IntBase):
    """An integer-id user."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oauth_accounts: Mapped[list[IntOAuthAccount]] = relationship("IntOAuthAccount", lazy="joined")


class IntTOTPFactor(SQLAlchemyBaseTOTPTable[int], IntBase):
    """TOTP factors of integer-id users."""

    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("user.id", ondelete="cascade"), primary_key=True)


class IntRecoveryCode(SQLAlchemyBaseRecoveryCodeTable[int], IntBase):
    """Recovery-code digests of integer-id users."""

    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("user.id", ondelete="cascade"), index=True)


class IntAccessToken(SQLAlchemyBaseAccessTokenTable[int], IntBase):
    """Database-strategy tokens of integer-id users."""

    @declared_attr
    def user_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(Integer, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True)


class IntUserSession(SQLAlchemyBaseSessionTable[int], IntBase):
    """Refresh sessions of integer-id users (the account pages need them)."""

    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("user.id", ondelete="cascade"), index=True)


class IntRefreshToken(SQLAlchemyBaseRefreshTokenTable, IntBase):
    """Digests of the refresh tokens of integer-id users' sessions."""


__all__ = [
    "AccessToken",
    "Base",
    "IntAccessToken",
    "IntBase",
    "IntOAuthAccount",
    "IntRecoveryCode",
    "IntRefreshToken",
    "IntTOTPFactor",
    "IntUser",
    "IntUserSession",
    "OAuthAccount",
    "RecoveryCode",
    "RefreshToken",
    "RevokedToken",
    "TOTPFactor",
    "User",
    "UserSession",
]
_ = uuid

# Passkeys (issue 19), appended here so concurrent edits above do not collide.
from fastapi_userkit.passkeys import (  # noqa: E402 - appended block, see above
    SQLAlchemyBasePasskeyChallengeTable,
    SQLAlchemyBasePasskeyTable,
    SQLAlchemyBasePasskeyTableUUID,
)


class Passkey(SQLAlchemyBasePasskeyTableUUID, Base):
    """Passkeys of UUID users."""


class PasskeyChallenge(SQLAlchemyBasePasskeyChallengeTable, Base):
    """Digests of live passkey challenges of the UUID app."""


class IntPasskey(SQLAlchemyBasePasskeyTable[int], IntBase):
    """Passkeys of integer-id users."""

    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("user.id", ondelete="cascade"), index=True)


class IntPasskeyChallenge(SQLAlchemyBasePasskeyChallengeTable, IntBase):
    """Digests of live passkey challenges of the integer-id app."""


# E-mail sign-in and e-mail change (issue 20), appended here so concurrent edits above do not collide.
from fastapi_userkit.email_auth import (  # noqa: E402 - appended block, see above
    SQLAlchemyBaseEmailChangeTable,
    SQLAlchemyBaseEmailChangeTableUUID,
    SQLAlchemyBaseEmailSignInTable,
    SQLAlchemyBaseEmailSignInTableUUID,
)


class EmailSignIn(SQLAlchemyBaseEmailSignInTableUUID, Base):
    """Pending sign-ins by e-mail of the UUID app."""


class EmailChange(SQLAlchemyBaseEmailChangeTableUUID, Base):
    """E-mail changes of UUID users."""


class IntEmailSignIn(SQLAlchemyBaseEmailSignInTable[int], IntBase):
    """Pending sign-ins by e-mail of the integer-id app."""

    user_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("user.id", ondelete="cascade"), nullable=True, index=True
    )


class IntEmailChange(SQLAlchemyBaseEmailChangeTable[int], IntBase):
    """E-mail changes of integer-id users."""

    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("user.id", ondelete="cascade"), index=True)
