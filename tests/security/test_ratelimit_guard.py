"""The guard's outcomes: what gives a reservation back, on a real SQLite counter table."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from fastapi_userkit.exceptions import InvalidCredentials
from fastapi_userkit.router.common import translate
from fastapi_userkit.security import (
    FlowLimits,
    Limit,
    LoginThrottle,
    RateLimitSettings,
    SecurityEventOutcome,
    SecurityEventType,
    SQLRateLimitBackend,
)
from fastapi_userkit.security.ratelimit import FlowGuard, Hit, RateLimiter, RateLimitFlow
from fastapi_userkit.security.ratelimit.backend import counted
from tests.conftest import EngineFactory

NOW = 1_700_000_000.0


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": [], "client": ("192.0.2.1", 1)})


async def _guard(engine_for: EngineFactory, flow: RateLimitFlow, **settings: object) -> FlowGuard:
    backend = SQLRateLimitBackend(await engine_for("sqlite"))
    limits = RateLimitSettings(backend=backend, clock=lambda: NOW, **settings)  # type: ignore[arg-type]
    return FlowGuard(RateLimiter(limits), flow)


class _EventLog:
    """All the limiter sees of a user manager that records security events."""

    def __init__(self) -> None:
        self.events: list[tuple[SecurityEventType, SecurityEventOutcome, dict[str, str] | None]] = []

    async def emit_security_event(
        self,
        type: SecurityEventType,
        request: Request | None = None,
        *,
        user_id: object = None,
        outcome: SecurityEventOutcome = SecurityEventOutcome.SUCCESS,
        details: dict[str, str] | None = None,
    ) -> None:
        self.events.append((type, outcome, details))


_THROTTLE = LoginThrottle(free_failures=1, first_delay_seconds=30, max_delay_seconds=60, lockout_failures=2)


async def _fail_login(guard: FlowGuard, manager: object) -> int:
    # As the login route runs it: the table translates outside the guard, which sees the domain error.
    with pytest.raises(HTTPException) as raised, translate("login"):
        async with guard.attempt(_request(), manager, "arthur@camelot.bt"):
            raise InvalidCredentials()
    return raised.value.status_code


async def test_a_lockout_is_emitted_to_a_manager_that_records_events(engine_for: EngineFactory) -> None:
    """The failure that starts an account's delay emits one LOCKOUT event through the manager's emit_security_event."""
    guard = await _guard(engine_for, "login", login_account=_THROTTLE)
    manager = _EventLog()

    answers = [await _fail_login(guard, manager), await _fail_login(guard, manager)]

    assert answers == [400, 429]
    assert manager.events == [
        (
            SecurityEventType.LOCKOUT,
            SecurityEventOutcome.FAILURE,
            {"flow": "login", "failures": "1", "delay_seconds": "30"},
        )
    ]


async def test_a_manager_without_security_events_still_locks_the_account(engine_for: EngineFactory) -> None:
    """A user manager that cannot record events gets none, and the account waits out its delay all the same."""
    guard = await _guard(engine_for, "login", login_account=_THROTTLE)

    answers = [await _fail_login(guard, object()), await _fail_login(guard, object())]

    assert answers == [400, 429]


async def test_an_answer_other_than_400_gives_the_reservation_back(engine_for: EngineFactory) -> None:
    """An HTTP answer raised inside the guard is no domain refusal, so no failure: a budget of one is never spent."""
    guard = await _guard(engine_for, "login", login_ip=Limit(1, 60), login_account=None)

    for _ in range(3):
        with pytest.raises(HTTPException) as raised:
            async with guard.attempt(_request(), object(), "arthur@camelot.bt"):
                raise HTTPException(status_code=403)
        assert raised.value.status_code == 403


async def test_an_unexpected_error_gives_the_reservation_back(engine_for: EngineFactory) -> None:
    """A bug in the guarded body is not counted against the client."""
    guard = await _guard(engine_for, "register", register=FlowLimits(per_ip=Limit(1, 60)))

    for _ in range(3):
        with pytest.raises(RuntimeError):
            async with guard.attempt(_request(), object(), "arthur@camelot.bt"):
                raise RuntimeError


async def test_a_flow_without_limits_reserves_nothing(engine_for: EngineFactory) -> None:
    """With no limit for the flow, attempts pass and forgetting login failures is a no-op without a throttle."""
    guard = await _guard(engine_for, "reset_password", reset_password=FlowLimits(), login_account=None)

    for _ in range(3):
        async with guard.attempt(_request(), object()) as attempt:
            attempt.forget_login_failures("arthur@camelot.bt")


def test_counting_on_a_missing_counter_starts_a_window() -> None:
    """A hit on no counter starts at 1 with the window's end."""
    counter = counted(Hit("k", 60), None, NOW)

    assert (counter.count, counter.reset_at, counter.blocked_until) == (1, NOW + 60, 0.0)
