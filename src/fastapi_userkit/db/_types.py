"""Column types that behave the same on SQLite, PostgreSQL and MariaDB/MySQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CHAR, TIMESTAMP, String, TypeDecorator
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

__all__ = ["GUID", "UUID_ID", "EmailType", "TIMESTAMPAware", "now_utc"]

UUID_ID = uuid.UUID


def now_utc() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class GUID(TypeDecorator[uuid.UUID]):
    """A UUID: native ``UUID`` on PostgreSQL, ``CHAR(36)`` in canonical form elsewhere.

    Accepts :class:`uuid.UUID` or its string form on the way in; always returns :class:`uuid.UUID`.
    """

    impl = CHAR(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID())
        return dialect.type_descriptor(CHAR(36))

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, uuid.UUID):
            value = uuid.UUID(str(value))
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None or isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(str(value))

    @property
    def python_type(self) -> type[uuid.UUID]:
        return uuid.UUID


class TIMESTAMPAware(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware (UTC) in Python.

    PostgreSQL stores ``TIMESTAMP WITH TIME ZONE``; SQLite and MariaDB have no zone, so values
    are stored in UTC and given back with ``tzinfo=UTC``. A naive value is taken as UTC everywhere.
    """

    impl = TIMESTAMP(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in {"mysql", "mariadb"}:
            # Microseconds, as on PostgreSQL and SQLite: a revocation cut-off stored to the
            # second would spare tokens issued earlier in that same second. DATETIME rather
            # than TIMESTAMP avoids MySQL's 2038 limit and implicit auto-update.
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(TIMESTAMP(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            # A naive value means UTC here; asyncpg would read it as the server's local time.
            return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class EmailType(TypeDecorator[str]):
    """An e-mail address column that compares case-insensitively on MariaDB/MySQL.

    MariaDB has no expression indexes, so the case-insensitive unique index there is a plain
    unique index over a case-insensitive, accent-sensitive, no-pad collation. Other dialects keep a plain
    ``VARCHAR`` and get a unique index on ``lower(email)`` instead.
    """

    impl = String(320)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in {"mysql", "mariadb"}:
            # NO PAD collations, so "a@b.c " and "a@b.c" stay different addresses, as they are on
            # PostgreSQL and SQLite (MariaDB's PAD SPACE default would ignore trailing spaces).
            mariadb = getattr(dialect, "is_mariadb", False)
            collation = "utf8mb4_uca1400_nopad_as_ci" if mariadb else "utf8mb4_0900_as_ci"
            return dialect.type_descriptor(mysql.VARCHAR(320, charset="utf8mb4", collation=collation))
        return dialect.type_descriptor(String(320))
