"""What a rate-limit counter store does, whatever keeps the counters.

A counter is a count in a window, plus the time until which its key is blocked (the login
throttle's delays). Every operation is atomic in the store itself, never read-modify-write in
the app, so any number of workers share the counters exactly (DESIGN.md: no state in process
memory).

An attempt is guarded by a *reservation* (issue 16, item 3): :meth:`RateLimitStorage.reserve`
counts the attempt on every key it touches *before* the check runs, or refuses it when a key is
at its limit or blocked, in one atomic step per store. Counting afterwards let every concurrent
attempt pass the check before the first failure was counted. An attempt that turns out not to
be a failure gives its reservation back with :meth:`RateLimitStorage.release`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# Defined with the other domain errors; re-exported here, where it has always been importable.
from fastapi_userkit.exceptions import RateLimitStorageError

__all__ = ["Counter", "Hit", "RateLimitBackend", "RateLimitStorage", "RateLimitStorageError", "Reservation"]


@dataclass(frozen=True)
class Counter:
    """The state of one key, times in Unix seconds."""

    count: int
    """Counted events in the current window."""

    reset_at: float
    """When the window ends and the count starts again."""

    blocked_until: float = 0.0
    """Until when the key is blocked (login throttle); in the past when it is not."""


@dataclass(frozen=True)
class Hit:
    """One counter that a reservation counts, and the rule that may refuse it."""

    key: str
    """The counter's key."""

    window: float
    """The window of a counter that starts (or starts again) with this hit, in seconds."""

    limit: int | None = None
    """Refuse the reservation when the live count has already reached this; ``None``: never."""

    sliding: bool = False
    """Push the window's end to at least ``now + window`` (the login throttle's quiet time)."""

    hold_from: int | None = None
    """From this count on, a granted reservation also blocks the key for :attr:`hold` seconds
    (never shortening a block), so attempts made while it is in flight are refused."""

    hold: float = 0.0
    """How long the block set from :attr:`hold_from` lasts."""


@dataclass(frozen=True)
class Reservation:
    """What :meth:`RateLimitStorage.reserve` did: all of its hits counted, or none."""

    granted: bool
    """Every hit was counted; ``False``: none was (a key was at its limit or blocked)."""

    counters: dict[str, Counter]
    """Each key's counter after the reservation (as it stands, when refused)."""

    refused: frozenset[str] = frozenset()
    """The keys that refused it (blocked, or at their limit); empty when granted."""


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

    async def reserve(self, hits: Sequence[Hit], *, now: float) -> Reservation:
        """Count one attempt on every key of ``hits``, all or none, atomically.

        A key is refused when it is blocked (``blocked_until > now``) or its live count has
        reached its :attr:`Hit.limit`; then no key keeps a count from this call. Otherwise each
        key counts as :meth:`hit` would, and a key whose new count reaches
        :attr:`Hit.hold_from` is blocked for :attr:`Hit.hold` seconds.

        Raises:
            RateLimitStorageError: The store failed.
        """
        ...  # pragma: no cover - protocol

    async def release(
        self, keys: Sequence[str], *, now: float, forget: Sequence[str] = (), unhold: Mapping[str, float] | None = None
    ) -> None:
        """Give back one counted attempt on each live key of ``keys``, and forget the ``forget`` keys.

        ``unhold`` maps keys of ``keys`` to the ``blocked_until`` their reservation set from
        :attr:`Hit.hold_from`: a key still blocked until exactly that time is unblocked (a block
        a failure set or extended since stays).

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


def refuses(hit: Hit, counter: Counter, now: float) -> bool:
    """Whether ``hit`` is refused on a key in the state ``counter`` (a live one, or a zero count)."""
    if counter.blocked_until > now:
        return True
    return hit.limit is not None and counter.count >= hit.limit


def counted(hit: Hit, counter: Counter | None, now: float) -> Counter:
    """The counter after ``hit`` is counted on ``counter`` (``None``, or expired: a new window).

    The stores that decide in the app, inside a transaction holding the key's lock, share it
    (the Redis script does the same in Lua).
    """
    end = now + hit.window
    if counter is None or counter.reset_at <= now:
        counter = Counter(count=0, reset_at=end, blocked_until=0.0)
    count = counter.count + 1
    reset_at = max(counter.reset_at, end) if hit.sliding else counter.reset_at
    blocked_until = counter.blocked_until
    if hit.hold_from is not None and count >= hit.hold_from:
        blocked_until = max(blocked_until, now + hit.hold)
        # A counter that ended before its block would forget the block with it.
        reset_at = max(reset_at, blocked_until)
    return Counter(count=count, reset_at=reset_at, blocked_until=blocked_until)
