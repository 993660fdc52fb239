"""Rate limiting and lockout through HTTP (T16-T18; ASVS 5.0 6.1.1, 6.3.1; NIST SP 800-63B 5.2.2).

Counters live in the SQL database (SQLite, PostgreSQL) or Redis; time is a fake clock the
tests move, so delays of minutes take no time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from fastapi_userkit.security import (
    FlowLimits,
    Limit,
    RateLimitSettings,
    RedisRateLimitBackend,
    SecuritySettings,
    SQLRateLimitBackend,
)
from fastapi_userkit.security.ratelimit import RateLimitBackend
from tests.app_factory import TestApp, make_app
from tests.conftest import REDIS_PREFIX, REDIS_URL, EngineFactory, SessionMaker, require_service, reset_schema

START = 1_700_000_000.0
EMAIL = "arthur@camelot.bt"
PASSWORD = "excalibur-stone-4242"
WRONG = "not-the-password-0000"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        """The current fake time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@dataclass
class Env:
    """A database, a way to build counter backends on it, and the fake clock."""

    session_maker: SessionMaker
    new_backend: Callable[[], RateLimitBackend]
    clock: FakeClock = field(default_factory=FakeClock)

    def settings(self, **overrides: Any) -> SecuritySettings:
        """Security settings with a fresh counter backend, the fake clock and ``overrides``."""
        trusted = overrides.pop("trusted_proxy_count", 0)
        limits = RateLimitSettings(backend=self.new_backend(), clock=self.clock, **overrides)
        return SecuritySettings(rate_limit=limits, trusted_proxy_count=trusted)


@pytest.fixture(params=[("sqlite", "sql"), ("postgresql", "sql"), ("sqlite", "redis")], ids="-".join)
async def env(request: pytest.FixtureRequest, engine_for: EngineFactory) -> AsyncIterator[Env]:
    """The test app's database with counters in SQL (SQLite, PostgreSQL) or in Redis."""
    from tests.models import Base

    database, counters = request.param
    engine = await engine_for(database)
    await reset_schema(engine, Base.metadata)  # also drops counters an earlier test left
    session_maker = async_sessionmaker(engine, expire_on_commit=False)
    if counters == "sql":
        backends: list[SQLRateLimitBackend] = []

        def new_sql() -> RateLimitBackend:
            backends.append(SQLRateLimitBackend())
            return backends[-1]

        yield Env(session_maker, new_sql)
        for backend in backends:
            await backend.aclose()
        return
    require_service("redis")
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(REDIS_URL)
    prefix = f"{REDIS_PREFIX}rl-http:"
    yield Env(session_maker, lambda: RedisRateLimitBackend(client, prefix=prefix))
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def client_for(app: TestApp, ip: str = "192.0.2.10") -> httpx.AsyncClient:
    """An HTTP client whose requests come from ``ip``."""
    transport = httpx.ASGITransport(app=app.app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def register(app: TestApp, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Create a user through the register route."""
    async with client_for(app, ip="198.51.100.200") as client:
        response = await client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text


async def login(
    client: httpx.AsyncClient, password: str, email: str = EMAIL, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST the bearer backend's login form."""
    return await client.post("/auth/jwt/login", data={"username": email, "password": password}, headers=headers)


async def fail(client: httpx.AsyncClient, times: int, email: str = EMAIL) -> None:
    """Fail ``times`` logins, each answered 400."""
    for _ in range(times):
        response = await login(client, WRONG, email)
        assert response.status_code == 400, response.text


def assert_limited(response: httpx.Response, retry_after: int) -> None:
    """The answer is 429 TOO_MANY_REQUESTS with the given Retry-After."""
    assert response.status_code == 429, response.text
    assert response.json() == {"detail": "TOO_MANY_REQUESTS"}
    assert response.headers["retry-after"] == str(retry_after)


async def test_fifth_failure_starts_a_delay_even_for_the_right_password(env: Env) -> None:
    """After 5 failures the account waits 30 s: even the right password gets 429 + Retry-After (T16)."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app) as client:
        await fail(client, 5)
        response = await login(client, PASSWORD)

    assert_limited(response, 30)


async def test_delay_ends_and_a_success_keeps_earlier_failures(env: Env) -> None:
    """Once the delay is over the right password works; the failures stay, so the next one delays longer."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app) as client:
        await fail(client, 5)
        env.clock.advance(31)
        first = await login(client, PASSWORD)
        second = await login(client, PASSWORD)
        await fail(client, 1)
        third = await login(client, PASSWORD)

    assert [first.status_code, second.status_code] == [200, 200], first.text
    assert_limited(third, 60)


async def test_delays_grow_then_reach_the_hard_cap(env: Env) -> None:
    """Each failure past the free ones doubles the delay (30 s, 60 s, ...) up to the 900 s cap (T16)."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)
    waits: list[int] = []

    async with client_for(app) as client:
        await fail(client, 4)
        for _ in range(7):
            await fail(client, 1)
            probe = await login(client, PASSWORD)
            assert probe.status_code == 429
            waits.append(int(probe.headers["retry-after"]))
            env.clock.advance(waits[-1])

    assert waits == [30, 60, 120, 240, 480, 900, 900]


async def test_failures_are_forgotten_after_a_quiet_window(env: Env) -> None:
    """Failures more than the window (5 min) apart from the next ones no longer count."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app) as client:
        await fail(client, 4)
        env.clock.advance(301)
        await fail(client, 4)
        response = await login(client, PASSWORD)

    assert response.status_code == 200, response.text


async def test_per_ip_limit_counts_failures_across_accounts(env: Env) -> None:
    """20 failed logins from one IP, on any accounts, stop that IP for the minute; another IP is unaffected (T17)."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app, ip="192.0.2.10") as attacker, client_for(app, ip="192.0.2.99") as owner:
        for index in range(20):
            await fail(attacker, 1, email=f"knight{index}@camelot.bt")
        limited = await login(attacker, PASSWORD)
        other_ip = await login(owner, PASSWORD)

    assert_limited(limited, 60)
    assert other_ip.status_code == 200, other_ip.text


async def test_forwarded_for_is_ignored_by_default(env: Env) -> None:
    """A client cannot dodge the per-IP limit by sending its own X-Forwarded-For (T17)."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app) as client:
        for index in range(20):
            forged = {"X-Forwarded-For": f"203.0.113.{index}"}
            response = await login(client, WRONG, email=f"knight{index}@camelot.bt", headers=forged)
            assert response.status_code == 400
        limited = await login(client, PASSWORD, headers={"X-Forwarded-For": "203.0.113.250"})

    assert_limited(limited, 60)


async def test_forwarded_for_is_used_behind_a_trusted_proxy(env: Env) -> None:
    """With one trusted proxy, the client is the last X-Forwarded-For address (T17)."""
    app = make_app(env.session_maker, security=env.settings(trusted_proxy_count=1))
    await register(app)

    async with client_for(app, ip="10.0.0.2") as proxy:
        for index in range(20):
            headers = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}
            response = await login(proxy, WRONG, email=f"knight{index}@camelot.bt", headers=headers)
            assert response.status_code == 400
        limited = await login(proxy, PASSWORD, headers={"X-Forwarded-For": "203.0.113.1"})
        other_client = await login(proxy, PASSWORD, headers={"X-Forwarded-For": "203.0.113.2"})

    assert_limited(limited, 60)
    assert other_client.status_code == 200, other_client.text


async def test_password_reset_works_while_the_account_is_throttled(env: Env) -> None:
    """An attacker's failures from another IP do not stop the owner: reset works and clears the throttle (T18)."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app, ip="192.0.2.66") as attacker, client_for(app, ip="192.0.2.10") as owner:
        await fail(attacker, 5)
        locked = await login(owner, PASSWORD)
        forgot = await owner.post("/auth/forgot-password", json={"email": EMAIL})
        token = app.hooks.last("on_after_forgot_password")["token"]
        reset = await owner.post("/auth/reset-password", json={"token": token, "password": "new-round-table-77"})
        after = await login(owner, "new-round-table-77")

    assert_limited(locked, 30)
    assert forgot.status_code == 202
    assert reset.status_code == 200, reset.text
    assert after.status_code == 200, after.text


async def test_counters_are_shared_by_two_app_instances(env: Env) -> None:
    """Two apps (two workers) on one database or Redis share the counters."""
    worker_a = make_app(env.session_maker, security=env.settings())
    worker_b = make_app(env.session_maker, security=env.settings())
    await register(worker_a)

    async with client_for(worker_a) as client_a, client_for(worker_b) as client_b:
        await fail(client_a, 3)
        await fail(client_b, 2)
        on_a = await login(client_a, PASSWORD)
        on_b = await login(client_b, PASSWORD)

    assert_limited(on_a, 30)
    assert_limited(on_b, 30)


async def test_one_setting_turns_rate_limiting_off(http_db: SessionMaker) -> None:
    """With ``rate_limit=None`` thirty failures change nothing."""
    app = make_app(http_db, security=SecuritySettings(rate_limit=None))
    await register(app)

    async with client_for(app) as client:
        await fail(client, 30)
        response = await login(client, PASSWORD)

    assert response.status_code == 200, response.text


async def test_many_successful_logins_from_one_client_are_never_limited(http_db: SessionMaker) -> None:
    """An app's test suite logging in 50 times from one client passes with the defaults."""
    app = make_app(http_db)
    await register(app)

    async with client_for(app) as client:
        statuses = {(await login(client, PASSWORD)).status_code for _ in range(50)}

    assert statuses == {200}


async def test_forgot_password_counts_every_request_per_address(env: Env) -> None:
    """Forgot-password allows 5 requests per address per minute, whether the address exists or not."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app) as client:
        known = [(await client.post("/auth/forgot-password", json={"email": EMAIL})).status_code for _ in range(6)]
        unknown = [
            (await client.post("/auth/forgot-password", json={"email": "nobody@camelot.bt"})).status_code
            for _ in range(6)
        ]
        env.clock.advance(60)
        later = await client.post("/auth/forgot-password", json={"email": EMAIL})

    assert known == unknown == [202] * 5 + [429]
    assert later.status_code == 202


async def test_request_verify_token_counts_every_request_per_address(env: Env) -> None:
    """Request-verify-token allows 5 requests per address per minute."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app) as client:
        statuses = [
            (await client.post("/auth/request-verify-token", json={"email": EMAIL})).status_code for _ in range(6)
        ]

    assert statuses == [202] * 5 + [429]


async def test_register_counts_failures_per_ip(env: Env) -> None:
    """Failed registrations (a taken address) count per IP; successful ones do not."""
    app = make_app(env.session_maker, security=env.settings(register=FlowLimits(per_ip=Limit(3, 60))))

    async with client_for(app) as client:
        created = [
            (await client.post("/auth/register", json={"email": f"k{i}@camelot.bt", "password": PASSWORD})).status_code
            for i in range(5)
        ]
        taken = [
            (await client.post("/auth/register", json={"email": "k0@camelot.bt", "password": PASSWORD})).status_code
            for _ in range(4)
        ]

    assert created == [201] * 5
    assert taken == [400, 400, 400, 429]


async def test_verify_and_reset_count_bad_tokens_per_ip(env: Env) -> None:
    """Bad verification and reset tokens count per IP, each flow on its own."""
    settings = env.settings(verify=FlowLimits(per_ip=Limit(2, 60)), reset_password=FlowLimits(per_ip=Limit(2, 60)))
    app = make_app(env.session_maker, security=settings)

    async with client_for(app) as client:
        verify = [(await client.post("/auth/verify", json={"token": "bad"})).status_code for _ in range(3)]
        reset = [
            (await client.post("/auth/reset-password", json={"token": "bad", "password": PASSWORD})).status_code
            for _ in range(3)
        ]

    assert verify == [400, 400, 429]
    assert reset == [400, 400, 429]


async def test_storage_outage_fails_open_or_closed_as_configured(
    http_db: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead counter store lets logins through with an error logged, or answers 503 with ``fail_open=False``."""
    from redis.asyncio import Redis

    dead: Redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    open_app = make_app(
        http_db, security=SecuritySettings(rate_limit=RateLimitSettings(backend=RedisRateLimitBackend(dead)))
    )
    closed_app = make_app(
        http_db,
        security=SecuritySettings(rate_limit=RateLimitSettings(backend=RedisRateLimitBackend(dead), fail_open=False)),
    )
    await register(open_app)

    with caplog.at_level(logging.ERROR, logger="fastapi_userkit.security"):
        async with client_for(open_app) as client:
            allowed = await login(client, PASSWORD)
    async with client_for(closed_app) as client:
        refused = await login(client, PASSWORD)
    await dead.aclose()

    assert allowed.status_code == 200, allowed.text
    assert any("Rate limiting skipped" in record.getMessage() for record in caplog.records)
    assert refused.status_code == 503


async def test_delay_emits_a_lockout_security_event(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """The failure that starts a delay emits a ``lockout`` security event."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    with caplog.at_level(logging.INFO, logger="fastapi_userkit.security"):
        async with client_for(app) as client:
            await fail(client, 5)

    events: list[dict[str, Any]] = [getattr(record, "security_event", {}) for record in caplog.records]
    lockouts = [event for event in events if event.get("type") == "lockout"]
    assert len(lockouts) == 1
    assert lockouts[0]["details"]["delay_seconds"] == "30"


async def test_openapi_documents_429_only_when_enabled(http_db: SessionMaker) -> None:
    """The limited routes list 429 in OpenAPI; with rate limiting off they do not."""
    paths = ["/auth/jwt/login", "/auth/register", "/auth/forgot-password", "/auth/reset-password", "/auth/verify"]
    on = make_app(http_db).app.openapi()["paths"]
    off = make_app(http_db, security=SecuritySettings(rate_limit=None)).app.openapi()["paths"]

    assert all("429" in on[path]["post"]["responses"] for path in paths)
    assert not any("429" in off[path]["post"]["responses"] for path in paths)


async def test_a_success_lifts_the_block_it_held_but_keeps_the_failures(env: Env) -> None:
    """After 4 failures, successes (each blocking while in flight) leave no block; the next failure delays."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app) as client:
        await fail(client, 4)
        successes = [(await login(client, PASSWORD)).status_code for _ in range(3)]
        await fail(client, 1)
        after = await login(client, PASSWORD)

    assert successes == [200, 200, 200]
    assert_limited(after, 30)
