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
    are stored in UTC and given back with ``tzinfo=UTC``.
    """

    impl = TIMESTAMP(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and dialect.name != "postgresql" and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class EmailType(TypeDecorator[str]):
    """An e-mail address column that compares case-insensitively on MariaDB/MySQL.

    MariaDB has no expression indexes, so the case-insensitive unique index there is a plain
    unique index over a case-insensitive, accent-sensitive collation. Other dialects keep a plain
    ``VARCHAR`` and get a unique index on ``lower(email)`` instead.
    """

    impl = String(320)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in {"mysql", "mariadb"}:
            collation = "utf8mb4_uca1400_as_ci" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_as_ci"
            return dialect.type_descriptor(mysql.VARCHAR(320, charset="utf8mb4", collation=collation))
        return dialect.type_descriptor(String(320))
