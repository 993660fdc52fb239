"""Protocols of access-token storage: a stored token row and the database that keeps them.

Declared beside the storage that implements them (``db/access_token.py``), so the storage layer
does not import the authentication package; the database strategy depends on them, and
FastAPI Users' import path ``…authentication.strategy.db.models`` re-exports them (issue 17).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

__all__ = ["AP", "AccessTokenDatabase", "AccessTokenProtocol"]

_ID_co = TypeVar("_ID_co", covariant=True)


class AccessTokenProtocol(Protocol[_ID_co]):
    """A stored token row: its (digested) token, owner and creation time.

    At run time every member is a plain attribute, as in FastAPI Users: a token model may
    subclass the protocol and set them (a dataclass, another ORM's document). A property would
    have no setter, and such a model would fail at construction (issue 16, item 10).
    """

    token: str
    created_at: datetime

    if TYPE_CHECKING:
        # Read-only for type checkers only, so a ``@declared_attr`` column (FastAPI Users'
        # documented style for the integer-id table, which mypy reads as read-only) satisfies
        # the protocol too; the library never assigns it.
        @property
        def user_id(self) -> _ID_co:
            """The owner's id."""
            ...  # pragma: no cover - protocol
    else:
        user_id: _ID_co


AP = TypeVar("AP", bound=AccessTokenProtocol)  # type: ignore[type-arg]  # compat: unparameterised bound


class AccessTokenDatabase(Protocol, Generic[AP]):
    """Storage of access tokens."""

    async def get_by_token(self, token: str, max_age: datetime | None = None) -> AP | None:
        """Return the row for ``token`` created at or after ``max_age``, or ``None``."""
        ...  # pragma: no cover - protocol

    async def create(self, create_dict: dict[str, Any]) -> AP:
        """Insert a row."""
        ...  # pragma: no cover - protocol

    async def update(self, access_token: AP, update_dict: dict[str, Any]) -> AP:
        """Update a row."""
        ...  # pragma: no cover - protocol

    async def delete(self, access_token: AP) -> None:
        """Delete a row."""
        ...  # pragma: no cover - protocol
