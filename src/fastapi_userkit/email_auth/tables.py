"""SQLAlchemy mixins of the ``email_sign_in`` and ``email_change`` tables.

Map them on the application's ``Base`` with its other tables::

    class EmailSignIn(SQLAlchemyBaseEmailSignInTableUUID, Base):
        pass


    class EmailChange(SQLAlchemyBaseEmailChangeTableUUID, Base):
        pass

With integer user ids, use the plain mixins and declare ``user_id``::

    class EmailSignIn(SQLAlchemyBaseEmailSignInTable[int], Base):
        user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="cascade"), nullable=True)


    class EmailChange(SQLAlchemyBaseEmailChangeTable[int], Base):
        user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="cascade"), index=True)

Neither table holds a usable link or code: only their HMAC digests (see
:mod:`fastapi_userkit.email_auth.tokens`), which are useless without the application's secret.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Generic

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from fastapi_userkit.db._types import GUID, TIMESTAMPAware
from fastapi_userkit.models import ID

__all__ = [
    "SQLAlchemyBaseEmailChangeTable",
    "SQLAlchemyBaseEmailChangeTableUUID",
    "SQLAlchemyBaseEmailSignInTable",
    "SQLAlchemyBaseEmailSignInTableUUID",
]

# Digests are base64url, compared byte for byte: MariaDB's default collations ignore case, and
# two digests that differ only in case are different digests.
_DIGEST = String(length=43).with_variant(mysql.VARCHAR(43, charset="ascii", collation="ascii_bin"), "mysql", "mariadb")
_EMAIL = String(length=320)


class SQLAlchemyBaseEmailSignInTable(Generic[ID]):
    """Columns of ``email_sign_in``: one row per issued e-mail, at most one per address (``email_key``)."""

    __tablename__ = "email_sign_in"

    if TYPE_CHECKING:  # plain attributes for type checkers (see SQLAlchemyBaseUserTable)
        id: uuid.UUID
        user_id: ID | None
        email: str
        email_key: str
        sign_up: bool
        link_digest: str
        code_digest: str
        created_at: datetime
        expires_at: datetime
        attempts: int
        used_at: datetime | None
    else:
        id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
        email: Mapped[str] = mapped_column(_EMAIL, nullable=False)
        email_key: Mapped[str] = mapped_column(_DIGEST, nullable=False, unique=True)
        sign_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
        link_digest: Mapped[str] = mapped_column(_DIGEST, nullable=False, unique=True)
        code_digest: Mapped[str] = mapped_column(_DIGEST, nullable=False)
        created_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False)
        expires_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False, index=True)
        attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
        used_at: Mapped[datetime | None] = mapped_column(TIMESTAMPAware(timezone=True), nullable=True)


class SQLAlchemyBaseEmailSignInTableUUID(SQLAlchemyBaseEmailSignInTable[uuid.UUID]):
    """Sign-in columns with a nullable ``user_id`` foreign key to ``user.id`` (deleting the user deletes its rows)."""

    if TYPE_CHECKING:
        user_id: uuid.UUID | None
    else:

        @declared_attr
        def user_id(cls) -> Mapped[GUID | None]:  # noqa: N805 - declared_attr receives the class
            return mapped_column(GUID, ForeignKey("user.id", ondelete="cascade"), nullable=True, index=True)


class SQLAlchemyBaseEmailChangeTable(Generic[ID]):
    """Columns of ``email_change``: one row per change asked for, kept until its revert window closes."""

    __tablename__ = "email_change"

    if TYPE_CHECKING:
        id: uuid.UUID
        user_id: ID
        old_email: str
        new_email: str
        confirm_digest: str
        revert_digest: str
        created_at: datetime
        confirm_expires_at: datetime
        revert_expires_at: datetime
        confirmed_at: datetime | None
        cancelled_at: datetime | None
        closed_at: datetime | None
        reverted_at: datetime | None
    else:
        id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
        old_email: Mapped[str] = mapped_column(_EMAIL, nullable=False)
        new_email: Mapped[str] = mapped_column(_EMAIL, nullable=False)
        confirm_digest: Mapped[str] = mapped_column(_DIGEST, nullable=False, unique=True)
        revert_digest: Mapped[str] = mapped_column(_DIGEST, nullable=False, unique=True)
        created_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False)
        confirm_expires_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False)
        revert_expires_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False, index=True)
        confirmed_at: Mapped[datetime | None] = mapped_column(TIMESTAMPAware(timezone=True), nullable=True)
        cancelled_at: Mapped[datetime | None] = mapped_column(TIMESTAMPAware(timezone=True), nullable=True)
        closed_at: Mapped[datetime | None] = mapped_column(TIMESTAMPAware(timezone=True), nullable=True)
        reverted_at: Mapped[datetime | None] = mapped_column(TIMESTAMPAware(timezone=True), nullable=True)


class SQLAlchemyBaseEmailChangeTableUUID(SQLAlchemyBaseEmailChangeTable[uuid.UUID]):
    """E-mail change columns with an indexed ``user_id`` foreign key to ``user.id``."""

    if TYPE_CHECKING:
        user_id: uuid.UUID
    else:

        @declared_attr
        def user_id(cls) -> Mapped[GUID]:  # noqa: N805 - declared_attr receives the class
            return mapped_column(GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True)
