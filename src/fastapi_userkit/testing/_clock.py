"""A clock the test moves by hand, in the two shapes the library's settings take."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["FrozenClock"]


class FrozenClock:
    """Stands still until :meth:`advance` moves it; starts at the real time of its creation.

    Starting at the real time, not at a fixed date, keeps what the clock does not reach (httpx's
    cookie jar, PyJWT's own checks, Redis expiry) consistent with what it does. Hand it as:

    - ``clock`` (returns an aware UTC ``datetime``) to ``JWTStrategy(..., clock=clock)``,
      ``DatabaseStrategy(..., clock=clock)`` and ``RefreshSettings(clock=clock)``;
    - ``clock.time`` (returns Unix seconds) to ``RateLimitSettings(clock=clock.time)``.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime.now(UTC)
        if self._now.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime (tzinfo=UTC)")

    def __call__(self) -> datetime:
        """The current time, an aware UTC ``datetime``."""
        return self._now

    def time(self) -> float:
        """The current time in Unix seconds (``time.time()``'s shape)."""
        return self._now.timestamp()

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        """Move forward by ``seconds`` and any ``timedelta`` arguments (``minutes=5``); the new time.

        Raises:
            ValueError: The move would go backwards.
        """
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise ValueError("FrozenClock only moves forward")
        self._now += step
        return self._now
