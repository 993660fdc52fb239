"""The rate-limit policy: which counters a flow checks, counts and clears, and the ``429``.

Routers wrap each flow in ``with translate(...)`` then ``async with guard.attempt(request,
user_manager, account) as attempt:``. Entering *reserves* the attempt on the flow's counters,
atomically and before the check runs, or raises :class:`~fastapi_userkit.exceptions.RateLimited`
(answered ``429`` with ``Retry-After`` by the error table) when a counter is at its limit or the
account is in a delay. Counting failures after the check let every concurrent guess pass it
first (issue 16, item 3): now at most the budget of attempts is ever in flight or failed.
Leaving keeps the reservation when the body raised a domain error (a failure, which may start
the login delay: judged by the error's type, issue 17), and gives it back otherwise (a success
lifts the in-flight block it set, but forgets no earlier failure, which may be another
spelling's: they expire with the window); so a client that logs in many times is never limited.
Flows that send e-mail keep every reservation (see
:class:`~fastapi_userkit.security.RateLimitSettings`).

The per-account key is the SHA-256 of the address's *skeleton*
(:func:`~fastapi_userkit._email_forms.account_skeleton`), so the counter store holds no personal
data beyond client addresses, and every spelling that can reach one account shares one budget
(issue 16, item 2). The reservation happens before the user lookup, so the key cannot be the
user's id; it must instead merge at least what each database's lookup merges: ``lower()`` on
SQLite and PostgreSQL (which folds U+0130 to ``i``), and on MariaDB/MySQL a collation that also
ignores accents, width, compatibility forms and zero-width characters. The skeleton takes the
compatibility decomposition (NFKD: width, circled and mathematical letters), drops combining
marks (accents, NFC/NFD) and default-ignorable characters (U+200B, U+2060, soft hyphen,
variation selectors, ...), folds case (``casefold``, with dotted and dotless i mapped to
``i``), recomposes (NFKC) and strips spaces. Merging two distinct addresses into one budget
only shares a limit between them; splitting one account's spellings would give an attacker a
fresh budget per spelling.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Request

from fastapi_userkit._contracts import emits_security_events
from fastapi_userkit._email_forms import account_skeleton
from fastapi_userkit.error_codes import ErrorCode
from fastapi_userkit.exceptions import ConfigurationError, FastAPIUsersException, RateLimited
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.ratelimit.backend import (
    Counter,
    Hit,
    RateLimitStorage,
    RateLimitStorageError,
    Reservation,
)
from fastapi_userkit.security.ratelimit.client_ip import client_ip, rate_limit_bucket

if TYPE_CHECKING:
    from fastapi_userkit.security.ratelimit.settings import FlowLimits, Limit, RateLimitSettings

__all__ = [
    "TOO_MANY_REQUESTS",
    "Attempt",
    "FlowGuard",
    "GuardErrorFlow",
    "RateLimitFlow",
    "RateLimiter",
    "account_key",
    "account_skeleton",
    "rate_limited",
]

TOO_MANY_REQUESTS = ErrorCode.TOO_MANY_REQUESTS
"""429 detail: a rate limit was reached, or the account is waiting out a delay after failed logins."""

GuardErrorFlow = Literal["rate-limit", "rate-limit-unavailable"]
"""The error-table flows (:data:`fastapi_userkit.router.common.ERRORS`) whose answers a guard may give."""

RateLimitFlow = Literal["login", "register", "forgot_password", "reset_password", "request_verify_token", "verify"]
_REQUEST_COUNTED: frozenset[RateLimitFlow] = frozenset({"forgot_password", "request_verify_token"})
_logger = logging.getLogger("fastapi_userkit.security")


def account_key(flow: str, account: str) -> str:
    """The counter key of ``account`` (an e-mail address) in ``flow``: a digest of its skeleton."""
    skeleton = account_skeleton(account)
    return f"{flow}:account:{hashlib.sha256(skeleton.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def rate_limited(retry_after: float) -> RateLimited:
    """The refusal of an attempt for ``retry_after`` seconds, to raise.

    The error table answers it ``429 TOO_MANY_REQUESTS`` with ``Retry-After`` in whole seconds
    (RFC 9110 10.2.3, RFC 6585 4).
    """
    return RateLimited(retry_after)


@dataclass
class Attempt:
    """One guarded attempt; the route marks a success that still ends in a ``400``."""

    succeeded: bool = False
    """Set by :meth:`mark_succeeded`: the credentials were right."""

    forget_login_of: str | None = None
    """An e-mail whose login failures to forget when the attempt ends (after a password reset)."""

    def mark_succeeded(self) -> None:
        """The credentials were right: do not count the attempt's ``400`` as a failure."""
        self.succeeded = True

    def forget_login_failures(self, email: str) -> None:
        """Clear the login throttle of ``email`` when the attempt ends (its password was reset)."""
        self.forget_login_of = email


class RateLimiter:
    """Applies :class:`~fastapi_userkit.security.RateLimitSettings` to the flows.

    Args:
        settings: The limits and the counter backend.
        trusted_proxy_count: Proxies trusted to append to ``X-Forwarded-For``.
    """

    def __init__(self, settings: RateLimitSettings, *, trusted_proxy_count: int = 0) -> None:
        self.settings = settings
        self.trusted_proxy_count = trusted_proxy_count

    def guard(self, flow: RateLimitFlow) -> FlowGuard:
        """The guard of one flow."""
        return FlowGuard(self, flow)

    def _flow_limits(self, flow: RateLimitFlow) -> tuple[Limit | None, Limit | None]:
        settings = self.settings
        if flow == "login":
            return settings.login_ip, None
        limits: FlowLimits = getattr(settings, flow)
        return limits.per_ip, limits.per_account


class FlowGuard:
    """Checks and counts the attempts of one flow; a no-op without a limiter."""

    def __init__(self, limiter: RateLimiter | None, flow: RateLimitFlow) -> None:
        self.limiter = limiter
        self.flow = flow

    def error_flows(self) -> tuple[GuardErrorFlow, ...]:
        """The error-table flows whose answers the guard can add to its route (for its OpenAPI).

        ``rate-limit`` (``429``) when the flow is limited; ``rate-limit-unavailable`` (``503``)
        too when a failing counter store refuses requests (``fail_open=False``).
        """
        if self.limiter is None:
            return ()
        if self.limiter.settings.fail_open:
            return ("rate-limit",)
        return ("rate-limit", "rate-limit-unavailable")

    @asynccontextmanager
    async def attempt(self, request: Request, user_manager: Any, account: str | None = None) -> AsyncIterator[Attempt]:
        """Guard one attempt of the flow.

        A domain error leaving the body is the client's failure and keeps the reservation,
        unless the route marked the attempt as succeeded; anything else gives it back.

        Raises:
            RateLimited: A limit is reached (``429`` with ``Retry-After`` through the error table).
            RateLimitStorageError: The counter store failed and ``fail_open`` is off (``503``).
        """
        attempt = Attempt()
        limiter = self.limiter
        if limiter is None:
            yield attempt
            return
        run = _Run(limiter, self.flow, request, user_manager, account)
        await run.protect(run.enter)
        try:
            yield attempt
        except FastAPIUsersException as exc:
            if _is_client_failure(exc) and not attempt.succeeded:
                await run.protect(run.count_failure)
            else:
                await run.protect(run.give_back)
            raise
        except Exception:
            # Not a failure of the client's (a bug, a storage error): the attempt is given back.
            await run.protect(run.give_back)
            raise
        await run.protect(run.give_back)
        if attempt.forget_login_of is not None:
            await run.protect(run.forget_login, attempt.forget_login_of)


def _is_client_failure(exc: FastAPIUsersException) -> bool:
    """Whether the attempt failed on what the client sent, judged by the error's type (issue 17).

    A domain refusal (``InvalidCredentials``, a bad token, a refused password) is the client's
    failure; the library's own faults (configuration, the counter store) are not. Routes
    translate to HTTP outside the guard, so no HTTP status is ever read here.
    """
    return not isinstance(exc, ConfigurationError | RateLimitStorageError)


class _Run:
    """The state of one guarded attempt: its hits, its clock reading, its store and its reservation."""

    def __init__(
        self, limiter: RateLimiter, flow: RateLimitFlow, request: Request, user_manager: Any, account: str | None
    ) -> None:
        self.settings = limiter.settings
        self.flow = flow
        self.request = request
        self.user_manager = user_manager
        self.now = self.settings.clock()
        ip_limit, account_limit = limiter._flow_limits(flow)
        ip = rate_limit_bucket(client_ip(request, limiter.trusted_proxy_count))
        self.hits: list[Hit] = []
        if ip_limit is not None:
            self.hits.append(Hit(f"{flow}:ip:{ip}", ip_limit.window_seconds, limit=ip_limit.limit))
        if account_limit is not None and account:
            self.hits.append(Hit(account_key(flow, account), account_limit.window_seconds, limit=account_limit.limit))
        self.throttle = self.settings.login_account if flow == "login" else None
        self.throttle_key: str | None = None
        if self.throttle is not None and account:
            self.throttle_key = account_key("login", account)
            # The attempt that reaches the free failures blocks the account while it runs: if it
            # fails, the delay starts anyway; concurrent guesses must not slip in meanwhile.
            self.hits.append(
                Hit(
                    self.throttle_key,
                    self.throttle.window_seconds,
                    sliding=True,
                    hold_from=self.throttle.free_failures,
                    hold=self.throttle.first_delay_seconds,
                )
            )
        self._storage: RateLimitStorage | None = None
        self.reservation: Reservation | None = None

    async def storage(self) -> RateLimitStorage:
        if self._storage is None:
            self._storage = await self.settings.backend.storage_for(self.user_manager)
        return self._storage

    async def protect(self, step: Any, *args: Any, **kwargs: Any) -> None:
        """Run ``step``; a store failure lets the request through (logged) or propagates (``503``).

        Raises:
            RateLimitStorageError: The store failed and ``fail_open`` is off.
        """
        try:
            await step(*args, **kwargs)
        except RateLimitStorageError as exc:
            _logger.error("Rate limiting skipped for %s: %s", self.flow, exc.message)  # noqa: TRY400 - the message is enough; no traceback for an outage
            if not self.settings.fail_open:
                raise

    async def enter(self) -> None:
        """Reserve the attempt on every counter, before the check runs (issue 16, item 3)."""
        if not self.hits:
            return
        reservation = await (await self.storage()).reserve(self.hits, now=self.now)
        if not reservation.granted:
            waits = [
                self._wait(hit, reservation.counters[hit.key]) for hit in self.hits if hit.key in reservation.refused
            ]
            raise rate_limited(max(waits))
        self.reservation = reservation

    def _wait(self, hit: Hit, counter: Counter) -> float:
        if counter.blocked_until > self.now:
            return counter.blocked_until - self.now
        return counter.reset_at - self.now

    async def count_failure(self) -> None:
        """The attempt failed: its reservation stands; the login throttle's delay starts when due."""
        if self.reservation is None or self.throttle is None or self.throttle_key is None:
            return
        counter = self.reservation.counters[self.throttle_key]
        delay = self.throttle.delay_after(counter.count)
        if delay > 0:
            # Keep the failures ``window`` seconds past the delay: the next failure grows it.
            await (await self.storage()).block(
                self.throttle_key, now=self.now, until=self.now + delay, keep=self.throttle.window_seconds
            )
            await self._emit_lockout(delay, counter)

    async def give_back(self) -> None:
        """The attempt was no failure: give its reservation back (requests-counted flows keep it).

        A success gives back only its own reservation, and lifts the in-flight block it set; it
        does not forget earlier failures: one skeleton's budget may be shared by several accounts
        (``alice@`` and ``\u00e0lice@``), and an attacker's own successful login between guesses
        on the other account erased them (issue 16, item 2). Failures expire with the window.
        """
        if self.reservation is None or self.flow in _REQUEST_COUNTED:
            return
        keys = [hit.key for hit in self.hits]
        unhold: dict[str, float] = {}
        if self.throttle_key is not None:
            counter = self.reservation.counters[self.throttle_key]
            # Granted means the key was not blocked at ``now``: a block past it is this attempt's hold.
            if counter.blocked_until > self.now:
                unhold[self.throttle_key] = counter.blocked_until
        await (await self.storage()).release(keys, now=self.now, unhold=unhold)

    async def forget_login(self, account: str) -> None:
        if self.settings.login_account is None:
            return
        await (await self.storage()).release([], now=self.now, forget=[account_key("login", account)])

    async def _emit_lockout(self, delay: float, counter: Counter) -> None:
        manager = self.user_manager
        # A declared capability (every BaseUserManager has it), not a getattr probe (issue 17).
        if not emits_security_events(manager):
            return
        await manager.emit_security_event(
            SecurityEventType.LOCKOUT,
            self.request,
            outcome=SecurityEventOutcome.FAILURE,
            details={"flow": self.flow, "failures": str(counter.count), "delay_seconds": str(math.ceil(delay))},
        )
