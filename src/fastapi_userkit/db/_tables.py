"""The table mixins: ``user`` and ``oauth_account`` columns, and the case-insensitive e-mail index.

Table and column names, types and lengths are those of ``fastapi-users-db-sqlalchemy`` 7, so an
existing database keeps working. E-mail uniqueness is case-insensitive in the database itself:
a unique index on ``lower(email)``, or a case-insensitive collation on MariaDB/MySQL, which have
no expression indexes. Import these names from :mod:`fastapi_userkit.db`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Generic

from sqlalchemy import Boolean, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint, event, func
from sqlalchemy.orm import Mapped, Mapper, declared_attr, mapped_column

from fastapi_userkit.db._types import GUID, UUID_ID, EmailType
from fastapi_userkit.models import ID

__all__ = [
    "SQLAlchemyBaseOAuthAccountTable",
    "SQLAlchemyBaseOAuthAccountTableUUID",
    "SQLAlchemyBaseUserTable",
    "SQLAlchemyBaseUserTableUUID",
    "is_mysql",
]


class SQLAlchemyBaseUserTable(Generic[ID]):
    """Columns of the ``user`` table; the application's class adds ``id`` and its own fields.

    Example::

        class User(SQLAlchemyBaseUserTable[int], Base):
            id: Mapped[int] = mapped_column(Integer, primary_key=True)
    """

    __tablename__ = "user"

    # Type checkers see plain attributes. With ``Mapped[...]`` here, mypy checks the UP bound
    # (UserProtocol) of ``BaseUserManager[User, ...]`` before it has resolved the descriptors,
    # rejects the class and caches the failure, so every app would need ``type: ignore``.
    if TYPE_CHECKING:
        id: ID
        email: str
        hashed_password: str
        is_active: bool
        is_superuser: bool
        is_verified: bool
    else:
        email: Mapped[str] = mapped_column(EmailType, nullable=False)
        hashed_password: Mapped[str] = mapped_column(String(length=1024), nullable=False)
        is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
        is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
        is_verified: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


def is_mysql(dialect_name: str) -> bool:
    return dialect_name in {"mysql", "mariadb"}


def _on_mysql(*_ddl_target_bind: Any, dialect: Any, **_kw: Any) -> bool:
    return is_mysql(dialect.name)


def _not_on_mysql(*_ddl_target_bind: Any, dialect: Any, **_kw: Any) -> bool:
    return not is_mysql(dialect.name)


@event.listens_for(SQLAlchemyBaseUserTable, "instrument_class", propagate=True)
def _add_email_index(mapper: Mapper[Any], _class: type) -> None:
    """Give every user table its case-insensitive unique index on ``email``.

    Done with a mapper event rather than ``__table_args__`` so an application that declares its
    own ``__table_args__`` keeps the index.
    """
    table: Any = mapper.local_table
    if "email" not in getattr(table, "c", {}) or mapper.inherits is not None:
        return
    name = f"ix_{table.name}_email"
    if any(index.name == name for index in table.indexes):  # pragma: no cover - remapping the same table
        return
    Index(name, func.lower(table.c.email), unique=True).ddl_if(callable_=_not_on_mysql)
    Index(f"{name}_ci", table.c.email, unique=True).ddl_if(callable_=_on_mysql)
    _add_rate_limit_table(table.metadata)


def _add_rate_limit_table(metadata: MetaData) -> None:
    """Declare the rate-limit counter table beside the user table (issue 16, item 5).

    The SQL rate-limit backend keeps its counters in the user's database. In the user table's
    metadata, they follow the app's schema: ``create_all``, ``drop_all``, truncation and Alembic
    autogenerate see them, so an app test suite that recreates its tables per test starts each
    test with no counters (with the table created on first use, outside the metadata, the
    counters of earlier tests outlived them and answered ``429``).
    """
    # Imported here: the security package imports the database layer.
    from fastapi_userkit.security.ratelimit.sql import DEFAULT_TABLE_NAME, rate_limit_table

    if DEFAULT_TABLE_NAME not in metadata.tables:
        rate_limit_table(metadata)


class SQLAlchemyBaseUserTableUUID(SQLAlchemyBaseUserTable[UUID_ID]):
    """The user columns with a UUID primary key."""

    if TYPE_CHECKING:
        id: UUID_ID
    else:
        id: Mapped[UUID_ID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)


class SQLAlchemyBaseOAuthAccountTable(Generic[ID]):
    """Columns of the ``oauth_account`` table.

    ``(oauth_name, account_id)`` is unique: a provider account belongs to at most one user.
    """

    __tablename__ = "oauth_account"

    if TYPE_CHECKING:  # plain attributes for type checkers, as for the user table
        id: ID
        oauth_name: str
        access_token: str
        expires_at: int | None
        refresh_token: str | None
        account_id: str
        account_email: str
    else:
        oauth_name: Mapped[str] = mapped_column(String(length=100), index=True, nullable=False)
        access_token: Mapped[str] = mapped_column(String(length=1024), nullable=False)
        expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
        refresh_token: Mapped[str | None] = mapped_column(String(length=1024), nullable=True)
        account_id: Mapped[str] = mapped_column(String(length=320), index=True, nullable=False)
        account_email: Mapped[str] = mapped_column(String(length=320), nullable=False)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("oauth_name", "account_id", name=f"uq_{cls.__tablename__}_provider_account"),)


class SQLAlchemyBaseOAuthAccountTableUUID(SQLAlchemyBaseOAuthAccountTable[UUID_ID]):
    """The OAuth-account columns with a UUID primary key and a ``user_id`` foreign key to ``user.id``."""

    if TYPE_CHECKING:
        id: UUID_ID
        user_id: UUID_ID
    else:
        id: Mapped[UUID_ID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)

        @declared_attr
        def user_id(cls) -> Mapped[GUID]:  # noqa: N805 - declared_attr receives the class
            return mapped_column(GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True)
