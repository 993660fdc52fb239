"""How a user signed in: the authentication assurance level and time of a token (issue 18, item 4).

Every access token a backend issues, and every refresh session, carries an :class:`Assurance`:

* ``aal``: 1 when the sign-in proved one factor (a password, an OAuth provider), 2 when it also
  proved a second one (NIST SP 800-63B section 4: AAL1 and AAL2);
* ``auth_time``: when the user last proved those factors, in seconds since the epoch (OpenID
  Connect Core's ``auth_time`` claim), so a route can ask for a *recent* sign-in before a
  sensitive change (ASVS 5.0 7.5.1).

A token that carries neither (issued before the upgrade, or by application code calling
``write_token(user)``) reads as :data:`UNKNOWN_ASSURANCE`: level 1 at an unknown time, never
fresh. A refresh keeps its session's assurance and never raises it; only a new sign-in or a
re-authentication does.

``current_user(aal=2)`` and ``current_user(fresh_within=300)`` refuse a request that falls short
with :class:`InsufficientUserAuthentication`, answered as RFC 9470's ``401`` with
``WWW-Authenticate: Bearer error="insufficient_user_authentication"`` so a client can step up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

# The errors live in a leaf module that the error table imports without loading this package.
from fastapi_userkit._assurance_errors import (
    InsufficientUserAuthentication,
    ReauthenticationCodeRequired,
    ReauthenticationFailed,
    acr_value,
)
from fastapi_userkit.db._types import now_utc

__all__ = [
    "AAL1",
    "AAL2",
    "UNKNOWN_ASSURANCE",
    "Assurance",
    "InsufficientUserAuthentication",
    "ReauthenticationCodeRequired",
    "ReauthenticationFailed",
    "acr_value",
]

AAL1 = 1
"""One factor proved (a password, an OAuth provider)."""

AAL2 = 2
"""Two factors proved (a password and a one-time or recovery code)."""

_LEVELS = (AAL1, AAL2)


@dataclass(frozen=True, slots=True)
class Assurance:
    """The assurance level of a sign-in and when it happened.

    Args:
        aal: ``1`` (one factor) or ``2`` (two factors).
        auth_time: When the factors were proved, in whole seconds since the epoch (UTC);
            ``None`` when unknown (such an assurance is never fresh).

    Raises:
        ValueError: ``aal`` is neither 1 nor 2, or ``auth_time`` is negative.
    """

    aal: int = AAL1
    auth_time: int | None = None

    def __post_init__(self) -> None:
        if self.aal not in _LEVELS:
            raise ValueError(f"An assurance level is 1 or 2, not {self.aal!r}.")
        if self.auth_time is not None and self.auth_time < 0:
            raise ValueError("auth_time is seconds since the epoch.")

    @classmethod
    def now(cls, aal: int = AAL1, *, clock: Callable[[], datetime] = now_utc) -> Assurance:
        """An assurance of level ``aal`` proved now (what a sign-in or re-authentication gives).

        Raises:
            ValueError: ``aal`` is neither 1 nor 2.
        """
        return cls(aal, int(clock().timestamp()))

    def is_fresh(self, max_age: int, now: datetime) -> bool:
        """Whether the factors were proved at most ``max_age`` seconds before ``now``."""
        return self.auth_time is not None and now.timestamp() - self.auth_time <= max_age

    def shortfall(
        self, aal: int | None, fresh_within: int | None, now: datetime
    ) -> InsufficientUserAuthentication | None:
        """The refusal a request with this assurance earns, or ``None`` when it is enough.

        Args:
            aal: The level required (``None``: any).
            fresh_within: The greatest age of the sign-in in seconds (``None``: any).
            now: The current time.
        """
        low = aal is not None and self.aal < aal
        stale = fresh_within is not None and not self.is_fresh(fresh_within, now)
        if not low and not stale:
            return None
        return InsufficientUserAuthentication(aal=aal if low else None, max_age=fresh_within if stale else None)


UNKNOWN_ASSURANCE = Assurance()
"""What a token without assurance reads as: level 1 at an unknown time, never fresh."""
