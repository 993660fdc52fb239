"""The rate-limit policy: which counters a flow checks, counts and clears, and the ``429``.

Routers wrap each flow in ``async with guard.attempt(request, user_manager, account) as
attempt:``. Entering checks the flow's counters (``429`` with ``Retry-After`` when one is over
its limit or the account is in a delay); leaving counts a failure when the body raised a
``400``, or clears the account's login failures after a success. Flows that send e-mail count
every request on entry instead (see :class:`~fastapi_userkit.security.RateLimitSettings`).

Keys never hold an e-mail address: the account part is a SHA-256 of the lower-cased address,
so the counter store holds no personal data beyond client addresses.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import HTTPException, Request, status

from fastapi_userkit.security.ratelimit.backend import Counter, RateLimitStorage, RateLimitStorageError
from fastapi_userkit.security.ratelimit.client_ip import client_ip, rate_limit_bucket

if TYPE_CHECKING:
    from fastapi_userkit.security.settings import FlowLimits, Limit, RateLimitSettings

__all__ = ["TOO_MANY_REQUESTS", "Attempt", "FlowGuard", "RateLimitFlow", "RateLimiter", "account_key", "rate_limited"]

TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
"""429 detail: a rate limit was reached, or the account is waiting out a delay after failed logins."""

RateLimitFlow = Literal["login", "register", "forgot_password", "reset_password", "request_verify_token", "verify"]
_REQUEST_COUNTED: frozenset[RateLimitFlow] = frozenset({"forgot_password", "request_verify_token"})
_logger = logging.getLogger("fastapi_userkit.security")


def account_key(flow: str, account: str) -> str:
    """The counter key of ``account`` (an e-mail address) in ``flow``."""
    normalised = account.strip().lower()
    return f"{flow}:account:{hashlib.sha256(normalised.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def rate_limited(retry_after: float) -> HTTPException:
    """The ``429`` answer, with ``Retry-After`` in whole seconds (RFC 9110 10.2.3, RFC 6585 4)."""
    seconds = max(1, math.ceil(retry_after))
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=TOO_MANY_REQUESTS,
        headers={"Retry-After": str(seconds)},
    )


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

    def openapi_errors(self) -> dict[int, list[str]]:
        """The answers the guard can add to its route, for ``openapi_errors(extra=...)``."""
        if self.limiter is None:
            return {}
        extra = {status.HTTP_429_TOO_MANY_REQUESTS: [TOO_MANY_REQUESTS]}
        if not self.limiter.settings.fail_open:
            extra[status.HTTP_503_SERVICE_UNAVAILABLE] = ["Service Unavailable"]
        return extra

    @asynccontextmanager
    async def attempt(self, request: Request, user_manager: Any, account: str | None = None) -> AsyncIterator[Attempt]:
        """Guard one attempt of the flow.

        Raises:
            HTTPException: ``429`` (with ``Retry-After``) when a limit is reached; ``503`` when
                the counter store fails and ``fail_open`` is off.
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
        except HTTPException as exc:
            if exc.status_code == status.HTTP_400_BAD_REQUEST and not attempt.succeeded:
                await run.protect(run.count_failure)
            raise
        if self.flow == "login" and run.throttle_seen:
            await run.protect(run.forget_login, account)
        if attempt.forget_login_of is not None:
            await run.protect(run.forget_login, attempt.forget_login_of)


class _Run:
    """The state of one guarded attempt: its keys, its clock reading and its store."""

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
        self.rules: list[tuple[str, Limit]] = []
        if ip_limit is not None:
            self.rules.append((f"{flow}:ip:{ip}", ip_limit))
        if account_limit is not None and account:
            self.rules.append((account_key(flow, account), account_limit))
        self.throttle = self.settings.login_account if flow == "login" else None
        self.throttle_key = account_key("login", account) if self.throttle is not None and account else None
        self._storage: RateLimitStorage | None = None
        # Whether the account had failures when the attempt began: only then does a success
        # need a write to forget them (most logins cost one read, no write).
        self.throttle_seen = False

    async def storage(self) -> RateLimitStorage:
        if self._storage is None:
            self._storage = await self.settings.backend.storage_for(self.user_manager)
        return self._storage

    async def protect(self, step: Any, *args: Any) -> None:
        """Run ``step``; a store failure lets the request through (logged) or answers ``503``."""
        try:
            await step(*args)
        except RateLimitStorageError as exc:
            _logger.error("Rate limiting skipped for %s: %s", self.flow, exc.message)  # noqa: TRY400 - the message is enough; no traceback for an outage
            if not self.settings.fail_open:
                raise HTTPException(status_code=status.HTTP_503_SERVICE_UNAVAILABLE) from exc

    async def enter(self) -> None:
        if self.flow in _REQUEST_COUNTED:
            await self._hit_rules(refuse=True)
            return
        keys = [key for key, _ in self.rules]
        if self.throttle_key is not None:
            keys.append(self.throttle_key)
        if not keys:
            return
        counters = await (await self.storage()).read(keys, now=self.now)
        waits = [
            counters[key].reset_at - self.now
            for key, limit in self.rules
            if key in counters and counters[key].count >= limit.limit
        ]
        throttled = counters.get(self.throttle_key or "")
        self.throttle_seen = throttled is not None
        if throttled is not None and throttled.blocked_until > self.now:
            waits.append(throttled.blocked_until - self.now)
        if waits:
            raise rate_limited(max(waits))

    async def count_failure(self) -> None:
        if self.flow not in _REQUEST_COUNTED:
            await self._hit_rules(refuse=False)
        if self.throttle is None or self.throttle_key is None:
            return
        storage = await self.storage()
        counter = await storage.hit(self.throttle_key, now=self.now, window=self.throttle.window_seconds, sliding=True)
        delay = self.throttle.delay_after(counter.count)
        if delay > 0:
            # Keep the failures ``window`` seconds past the delay: the next failure grows it.
            await storage.block(
                self.throttle_key, now=self.now, until=self.now + delay, keep=self.throttle.window_seconds
            )
            await self._emit_lockout(delay, counter)

    async def forget_login(self, account: str | None) -> None:
        if self.settings.login_account is None or not account:
            return
        await (await self.storage()).clear(account_key("login", account))

    async def _hit_rules(self, *, refuse: bool) -> None:
        if not self.rules:
            return
        storage = await self.storage()
        waits: list[float] = []
        for key, limit in self.rules:
            counter = await storage.hit(key, now=self.now, window=limit.window_seconds, sliding=False)
            if counter.count > limit.limit:
                waits.append(counter.reset_at - self.now)
        if refuse and waits:
            raise rate_limited(max(waits))

    async def _emit_lockout(self, delay: float, counter: Counter) -> None:
        emit = getattr(self.user_manager, "emit_security_event", None)
        if emit is None:
            return
        from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType

        await emit(
            SecurityEventType.LOCKOUT,
            self.request,
            outcome=SecurityEventOutcome.FAILURE,
            details={"flow": self.flow, "failures": str(counter.count), "delay_seconds": str(math.ceil(delay))},
        )
