"""What a rate-limit counter store does, whatever keeps the counters.

A counter is a count in a window, plus the time until which its key is blocked (the login
throttle's delays). Every operation is atomic in the store itself, never read-modify-write in
the app, so any number of workers share the counters exactly (DESIGN.md: no state in process
memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi_userkit.exceptions import FastAPIUsersException

__all__ = ["Counter", "RateLimitBackend", "RateLimitStorage", "RateLimitStorageError"]


class RateLimitStorageError(FastAPIUsersException):
    """The counter store failed (unreachable, or its table could not be created)."""

    default_message = "The rate-limit counter storage failed."
    code = "RATE_LIMIT_STORAGE_ERROR"


@dataclass(frozen=True)
class Counter:
    """The state of one key, times in Unix seconds."""

    count: int
    """Counted events in the current window."""

    reset_at: float
    """When the window ends and the count starts again."""

    blocked_until: float = 0.0
    """Until when the key is blocked (login throttle); in the past when it is not."""


class RateLimitStorage(Protocol):
    """Atomic counter operations on one store (one database, one Redis)."""

    async def hit(self, key: str, *, now: float, window: float, sliding: bool) -> Counter:
        """Count one event for ``key`` and return the counter after it.

        An expired counter (``reset_at <= now``) starts again at 1 with ``reset_at = now +
        window``. A live one is incremented; ``sliding`` also pushes ``reset_at`` to at least
        ``now + window``.

        Raises:
            RateLimitStorageError: The store failed.
        """
        ...  # pragma: no cover - protocol

    async def block(self, key: str, *, now: float, until: float, keep: float) -> None:
        """Block ``key`` until ``until`` (never shortening a block), and keep it ``keep`` more seconds.

        A missing or expired key is left alone: a block always follows a :meth:`hit`.

        Raises:
            RateLimitStorageError: The store failed.
        """
        ...  # pragma: no cover - protocol

    async def read(self, keys: Sequence[str], *, now: float) -> dict[str, Counter]:
        """Return the live counters among ``keys`` (expired or missing ones are left out).

        Raises:
            RateLimitStorageError: The store failed.
        """
        ...  # pragma: no cover - protocol

    async def clear(self, key: str) -> None:
        """Forget ``key``.

        Raises:
            RateLimitStorageError: The store failed.
        """
        ...  # pragma: no cover - protocol


class RateLimitBackend(Protocol):
    """Gives the counter store to use for a request."""

    async def storage_for(self, user_manager: Any) -> RateLimitStorage:
        """Return the store for a request handled by ``user_manager``.

        Raises:
            RateLimitStorageError: No store can be reached (for instance the SQL backend
                finds no SQLAlchemy session on the manager's user database).
        """
        ...  # pragma: no cover - protocol
