"""What a token is: the strategy that writes, reads and destroys it."""

from __future__ import annotations

from typing import Generic, Protocol

from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP

__all__ = ["Strategy", "StrategyDestroyNotSupportedError"]


class StrategyDestroyNotSupportedError(Exception):
    """The strategy cannot destroy a single token (a JWT without a revocation table)."""


class Strategy(Protocol, Generic[UP, ID]):
    """Turns a user into a token and back."""

    async def read_token(self, token: str | None, user_manager: BaseUserManager[UP, ID]) -> UP | None:
        """Return the token's user, or ``None`` if the token is missing, invalid or revoked."""
        ...  # pragma: no cover - protocol

    async def write_token(self, user: UP) -> str:
        """Issue a token for ``user``."""
        ...  # pragma: no cover - protocol

    async def destroy_token(self, token: str, user: UP) -> None:
        """Revoke ``token``.

        Raises:
            StrategyDestroyNotSupportedError: The strategy keeps no state to revoke.
        """
        ...  # pragma: no cover - protocol
