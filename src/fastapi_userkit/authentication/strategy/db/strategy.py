"""Opaque tokens stored (as digests) in a database table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Generic

from fastapi_userkit import exceptions
from fastapi_userkit.authentication.strategy._opaque import digest, new_token
from fastapi_userkit.authentication.strategy.base import Strategy
from fastapi_userkit.authentication.strategy.db.models import AP, AccessTokenDatabase
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP

__all__ = ["DatabaseStrategy"]


class DatabaseStrategy(Strategy[UP, ID], Generic[UP, ID, AP]):
    """Opaque tokens whose SHA-256 digests are rows of an access-token table.

    The client gets 256 random bits; the table's ``token`` column gets their digest (43
    characters, the contract's column size), so a dump of the table cannot be replayed.

    Args:
        database: The access-token storage.
        lifetime_seconds: Seconds a token stays valid; ``None`` for no limit. ``0`` is refused.

    Raises:
        ConfigurationError: A zero or negative lifetime.
    """

    def __init__(self, database: AccessTokenDatabase[AP], lifetime_seconds: int | None = None) -> None:
        if lifetime_seconds is not None and lifetime_seconds <= 0:
            raise exceptions.ConfigurationError("lifetime_seconds must be positive (or None for no limit).")
        self.database = database
        self.lifetime_seconds = lifetime_seconds

    def _max_age(self) -> datetime | None:
        if self.lifetime_seconds is None:
            return None
        return now_utc() - timedelta(seconds=self.lifetime_seconds)

    async def read_token(self, token: str | None, user_manager: BaseUserManager[UP, ID]) -> UP | None:
        """Return the token's user, or ``None`` if unknown or expired."""
        if token is None:
            return None
        access_token = await self.database.get_by_token(digest(token), self._max_age())
        if access_token is None:
            return None
        try:
            parsed_id = user_manager.parse_id(access_token.user_id)
            return await user_manager.get(parsed_id)
        except (exceptions.UserNotExists, exceptions.InvalidID):
            return None

    async def write_token(self, user: UP) -> str:
        """Issue a token for ``user`` and store its digest."""
        token = new_token()
        await self.database.create(self._create_access_token_dict(user, digest(token)))
        return token

    async def destroy_token(self, token: str, user: UP) -> None:
        """Delete the token's row."""
        access_token = await self.database.get_by_token(digest(token))
        if access_token is not None:
            await self.database.delete(access_token)

    def _create_access_token_dict(self, user: UP, token_digest: str) -> dict[str, Any]:
        """The new row; override to add columns (the documented extension point)."""
        return {"token": token_digest, "user_id": user.id}
