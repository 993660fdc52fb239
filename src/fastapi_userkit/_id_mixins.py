"""How a user manager parses user ids: the UUID and integer mixins."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi_userkit import exceptions

__all__ = ["IntegerIDMixin", "UUIDIDMixin"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class UUIDIDMixin:
    """Parses ids as UUIDs; put it left of :class:`BaseUserManager`."""

    def parse_id(self, value: Any) -> uuid.UUID:
        """Parse a UUID.

        Raises:
            InvalidID: Not a UUID or its string form (``None`` and numbers included).
        """
        if isinstance(value, uuid.UUID):
            return value
        if not isinstance(value, str):
            raise exceptions.InvalidID()
        try:
            return uuid.UUID(value)
        except ValueError as exc:
            raise exceptions.InvalidID() from exc


class IntegerIDMixin:
    """Parses ids as integers; put it left of :class:`BaseUserManager`."""

    def parse_id(self, value: Any) -> int:
        """Parse an integer.

        Raises:
            InvalidID: Not an integer or its decimal string form (``None``, floats and booleans included).
        """
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise exceptions.InvalidID()
        try:
            parsed = int(value)
        except ValueError as exc:
            raise exceptions.InvalidID() from exc
        # Ids outside a signed 64-bit integer cannot exist in any supported database, and
        # asyncpg would fail on them with a driver error (a 500) instead of "not found".
        if not _INT64_MIN <= parsed <= _INT64_MAX:
            raise exceptions.InvalidID()
        return parsed
