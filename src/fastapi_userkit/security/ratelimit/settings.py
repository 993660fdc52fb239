"""The rate-limit settings: plain, validated data (ASVS 5.0 6.1.1, 6.3.1; NIST SP 800-63B 5.2.2).

Kept apart from the limiter that applies them (:mod:`~fastapi_userkit.security.ratelimit.limiter`)
and from :class:`~fastapi_userkit.security.SecuritySettings` that groups them, so both depend on
this module and it depends on neither: no import cycle (issue 17). Every value is validated at
construction, so a wrong setting fails at start-up and never at a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi_userkit.exceptions import ConfigurationError

if TYPE_CHECKING:
    from fastapi_userkit.security.ratelimit.backend import RateLimitBackend

__all__ = ["FlowLimits", "Limit", "LoginThrottle", "RateLimitSettings"]

# NIST SP 800-63B (rev. 3 5.2.2, rev. 4 3.2.2): at most 100 consecutive failed attempts.
_NIST_MAX_CONSECUTIVE_FAILURES = 100


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` counted requests per ``window_seconds`` (a fixed window).

    Raises:
        ConfigurationError: A limit or window that is not positive.
    """

    limit: int
    """How many counted requests the window allows; the next one is answered ``429``."""

    window_seconds: float
    """The window's length; the count starts again when it ends."""

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds <= 0:
            raise ConfigurationError("A rate limit needs a positive limit and a positive window.")


@dataclass(frozen=True)
class LoginThrottle:
    """Per-account throttling of failed logins: free failures, then growing delays, then a cap.

    The failures of one account (the e-mail in every spelling that can reach it, whoever sends
    them) are counted until ``window_seconds`` pass without a failure after the last delay, or a
    login succeeds, or the password is reset. From the ``free_failures``-th failure on, the account waits
    ``first_delay_seconds``, doubling at each further failure up to ``max_delay_seconds``; from
    ``lockout_failures`` failures on it waits ``max_delay_seconds`` every time (the hard cap).
    While it waits, every login (the right password included) gets ``429`` with
    ``Retry-After`` (NIST SP 800-63B 5.2.2, ASVS 4.0.3 2.2.1, ASVS 5.0 6.3.1). A wait never
    exceeds ``max_delay_seconds``, so an attacker cannot lock the owner out for good, and the
    password-reset flow keeps working meanwhile (ASVS 5.0 6.1.1).

    Raises:
        ConfigurationError: Inconsistent or out-of-range values.
    """

    free_failures: int = 5
    """Failures allowed before the first delay."""

    window_seconds: float = 300.0
    """Quiet time after which the account's failures are forgotten."""

    first_delay_seconds: float = 30.0
    """The first delay; it doubles with each further failure (NIST: "30 s up to 1 h")."""

    max_delay_seconds: float = 900.0
    """The longest wait, also the hard lock's length."""

    lockout_failures: int = 10
    """Failures at which the hard cap applies (at most 100, NIST SP 800-63B)."""

    def __post_init__(self) -> None:
        if self.free_failures < 1 or self.window_seconds <= 0:
            raise ConfigurationError("LoginThrottle needs free_failures >= 1 and a positive window.")
        if not 0 < self.first_delay_seconds <= self.max_delay_seconds:
            raise ConfigurationError("LoginThrottle needs 0 < first_delay_seconds <= max_delay_seconds.")
        if not self.free_failures <= self.lockout_failures <= _NIST_MAX_CONSECUTIVE_FAILURES:
            raise ConfigurationError("LoginThrottle needs free_failures <= lockout_failures <= 100 (NIST SP 800-63B).")

    def delay_after(self, failures: int) -> float:
        """Seconds the account waits after its ``failures``-th consecutive failure (0: none)."""
        if failures < self.free_failures:
            return 0.0
        if failures >= self.lockout_failures:
            return self.max_delay_seconds
        # Cap the exponent before raising: the multiplication cannot overflow.
        exponent = min(failures - self.free_failures, 64)
        return float(min(self.first_delay_seconds * 2**exponent, self.max_delay_seconds))


@dataclass(frozen=True)
class FlowLimits:
    """The limits of one flow: per client IP and per account (the e-mail it names)."""

    per_ip: Limit | None = None
    """Counted requests per client IP; ``None``: no per-IP limit."""

    per_account: Limit | None = None
    """Counted requests per e-mail address; ``None``: no per-account limit."""


def _default_clock() -> float:
    return time.time()


def _default_backend() -> RateLimitBackend:
    from fastapi_userkit.security.ratelimit.sql import SQLRateLimitBackend

    return SQLRateLimitBackend()


@dataclass(frozen=True)
class RateLimitSettings:
    """Rate limits of the authentication flows (ASVS 5.0 6.1.1, 6.3.1; NIST SP 800-63B 5.2.2).

    What a flow counts: login, register, reset-password and verify count *failures* (answers
    ``400``), so an app's own test suite, logging in or registering many times from one client,
    is never limited; forgot-password and request-verify-token count *every request*, since each
    may send an e-mail. Each attempt is reserved on its counters before it is checked and given
    back unless it failed, so concurrent attempts never get more than a budget through (issue 16).
    The defaults follow django-allauth's.

    Raises:
        ConfigurationError: A value out of range (see :class:`Limit`, :class:`LoginThrottle`).
    """

    backend: RateLimitBackend = field(default_factory=_default_backend, compare=False)
    """Where counters live. Default: a table in the SQL database of the user manager's session
    (:class:`~fastapi_userkit.security.ratelimit.SQLRateLimitBackend`); for Redis, pass a
    :class:`~fastapi_userkit.security.ratelimit.RedisRateLimitBackend`."""

    login_account: LoginThrottle | None = field(default_factory=LoginThrottle)
    """Failed logins per account: growing delays and a hard cap."""

    login_ip: Limit | None = field(default_factory=lambda: Limit(20, 60))
    """Failed logins per client IP."""

    register: FlowLimits = field(default_factory=lambda: FlowLimits(Limit(20, 60), Limit(5, 60)))
    """Failed registrations (taken address, refused password)."""

    forgot_password: FlowLimits = field(default_factory=lambda: FlowLimits(Limit(20, 60), Limit(5, 60)))
    """Every forgot-password request (each may send an e-mail)."""

    reset_password: FlowLimits = field(default_factory=lambda: FlowLimits(Limit(20, 60)))
    """Failed password resets (bad token, refused password)."""

    request_verify_token: FlowLimits = field(default_factory=lambda: FlowLimits(Limit(20, 60), Limit(5, 60)))
    """Every request for a verification e-mail."""

    verify: FlowLimits = field(default_factory=lambda: FlowLimits(Limit(20, 60)))
    """Failed verifications (bad token)."""

    fail_open: bool = True
    """If the counter storage fails (Redis down, no permission to create the table), let the
    request through and log an error (``True``), or answer ``503`` (``False``)."""

    clock: Callable[[], float] = _default_clock
    """Returns the current Unix time in seconds; injectable for tests."""
