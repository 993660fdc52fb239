"""Opaque tokens stored (as digests) in Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic

from fastapi_userkit import exceptions
from fastapi_userkit.authentication.strategy._opaque import digest, new_token
from fastapi_userkit.authentication.strategy.base import Strategy
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisStrategy"]


class RedisStrategy(Strategy[UP, ID], Generic[UP, ID]):
    """Opaque tokens kept in Redis under the SHA-256 digest of the token.

    The key is ``{key_prefix}{digest}`` and its value the user id; a key expires with the token.

    Args:
        redis: An asyncio Redis client (``decode_responses=True`` or not, both work).
        lifetime_seconds: Seconds a token stays valid; ``None`` for no limit. ``0`` is refused.
        key_prefix: Prefix of the token keys.

    Raises:
        ConfigurationError: A zero or negative lifetime.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        lifetime_seconds: int | None = None,
        *,
        key_prefix: str = "fastapi_users_token:",
    ) -> None:
        if lifetime_seconds is not None and lifetime_seconds <= 0:
            raise exceptions.ConfigurationError("lifetime_seconds must be positive (or None for no limit).")
        self.redis = redis
        self.lifetime_seconds = lifetime_seconds
        self.key_prefix = key_prefix

    def _key(self, token: str) -> str:
        return f"{self.key_prefix}{digest(token)}"

    async def read_token(self, token: str | None, user_manager: BaseUserManager[UP, ID]) -> UP | None:
        """Return the token's user, or ``None`` if unknown or expired."""
        if token is None:
            return None
        user_id: Any = await self.redis.get(self._key(token))
        if user_id is None:
            return None
        if isinstance(user_id, bytes):
            user_id = user_id.decode()
        try:
            return await user_manager.get(user_manager.parse_id(user_id))
        except (exceptions.UserNotExists, exceptions.InvalidID):
            return None

    async def write_token(self, user: UP) -> str:
        """Issue a token for ``user`` and store its digest."""
        token = new_token()
        await self.redis.set(self._key(token), str(user.id), ex=self.lifetime_seconds)
        return token

    async def destroy_token(self, token: str, user: UP) -> None:
        """Delete the token's key."""
        await self.redis.delete(self._key(token))
