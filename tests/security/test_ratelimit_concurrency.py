"""Rate limits hold under concurrency (issue 16, item 3): at most the budget reaches the check.

Requests run concurrently through ``asyncio.gather`` over one ASGI app, each with its own
database session as the app's dependencies give it, against counters in SQLite, PostgreSQL,
MariaDB and Redis.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from fastapi_userkit.security import FlowLimits, Limit, LoginThrottle, RedisRateLimitBackend, SQLRateLimitBackend
from fastapi_userkit.security.ratelimit import RateLimitBackend
from tests.app_factory import make_app
from tests.conftest import REDIS_PREFIX, REDIS_URL, EngineFactory, require_service, reset_schema
from tests.security.test_ratelimit_http import EMAIL, PASSWORD, WRONG, Env, client_for, login, register


@pytest.fixture(
    params=[("sqlite", "sql"), ("postgresql", "sql"), ("mariadb", "sql"), ("postgresql", "redis")], ids="-".join
)
async def env(request: pytest.FixtureRequest, engine_for: EngineFactory) -> AsyncIterator[Env]:
    """The test app's database with counters in it (SQLite, PostgreSQL, MariaDB) or in Redis."""
    from tests.models import Base

    database, counters = request.param
    engine = await engine_for(database)
    await reset_schema(engine, Base.metadata)
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
    prefix = f"{REDIS_PREFIX}rl-concurrency:"
    yield Env(session_maker, lambda: RedisRateLimitBackend(client, prefix=prefix))
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def tally(responses: list[httpx.Response]) -> Counter[int]:
    """How many responses got each status code."""
    return Counter(response.status_code for response in responses)


async def test_parallel_wrong_passwords_from_one_ip_stop_at_the_ip_budget(env: Env) -> None:
    """30 simultaneous wrong-password logins from one IP, budget 20: at most 20 get 400, the rest 429."""
    app = make_app(env.session_maker, security=env.settings(login_ip=Limit(20, 60), login_account=None))

    async with client_for(app) as client:
        responses = await asyncio.gather(*(login(client, WRONG, f"knight{n}@camelot.bt") for n in range(30)))

    statuses = tally(list(responses))
    assert statuses[400] <= 20
    assert statuses[400] + statuses[429] == 30
    assert statuses[429] >= 10


async def test_parallel_wrong_passwords_for_one_account_stop_at_the_free_failures(env: Env) -> None:
    """15 simultaneous wrong passwords for one account with 5 free failures: at most 5 reach the check."""
    throttle = LoginThrottle(free_failures=5, lockout_failures=10)
    app = make_app(env.session_maker, security=env.settings(login_account=throttle, login_ip=Limit(100, 60)))
    await register(app)

    async with client_for(app) as client:
        responses = await asyncio.gather(*(login(client, WRONG) for _ in range(15)))
        env.clock.advance(29)
        still_waiting = await login(client, PASSWORD)

    statuses = tally(list(responses))  # a wrong password that reached the check answers 400
    assert 1 <= statuses[400] <= 5
    assert statuses[400] + statuses[429] == 15
    assert still_waiting.status_code == 429


async def test_parallel_registrations_of_one_address_respect_the_account_budget(env: Env) -> None:
    """20 simultaneous registrations of one address in mixed case: one account, at most 5 failures."""
    app = make_app(
        env.session_maker, security=env.settings(register=FlowLimits(per_ip=Limit(100, 60), per_account=Limit(5, 60)))
    )
    spellings = [
        "".join(char.upper() if (n >> i) & 1 else char for i, char in enumerate("arthur")) + "@camelot.bt"
        for n in range(20)
    ]

    async with client_for(app) as client:
        responses = await asyncio.gather(
            *(client.post("/auth/register", json={"email": email, "password": PASSWORD}) for email in spellings)
        )

    statuses = tally(list(responses))
    assert statuses[201] == 1
    assert statuses[400] <= 5
    assert statuses[429] >= 14


async def test_parallel_successful_logins_within_the_budgets_are_never_limited(env: Env) -> None:
    """Three waves of 20 simultaneous right-password logins (4 accounts x 5) from one IP, budget 20: all 200.

    A success gives its reservation back. Attempts in flight hold theirs until they end, so more
    simultaneous attempts than a budget (20 per IP, 5 per account) may be refused while they run.
    """
    app = make_app(env.session_maker, security=env.settings(login_ip=Limit(20, 60)))
    accounts = [f"knight{n}@camelot.bt" for n in range(4)]
    for email in accounts:
        await register(app, email)

    async with client_for(app) as client:
        waves = [await asyncio.gather(*(login(client, PASSWORD, email) for email in accounts * 5)) for _ in range(3)]

    assert tally([response for wave in waves for response in wave]) == {200: 60}


async def test_parallel_forgot_password_requests_stop_at_the_account_budget(env: Env) -> None:
    """20 simultaneous forgot-password requests for one address: exactly 5 are accepted."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app)

    async with client_for(app) as client:
        responses = await asyncio.gather(
            *(client.post("/auth/forgot-password", json={"email": EMAIL}) for _ in range(20))
        )

    assert tally(list(responses)) == {202: 5, 429: 15}


async def test_parallel_bad_reset_and_verify_tokens_stop_at_the_ip_budget(env: Env) -> None:
    """30 simultaneous bad reset tokens and 30 bad verify tokens from one IP, budget 20 each: at most 20 get 400."""
    limits = FlowLimits(per_ip=Limit(20, 60))
    app = make_app(env.session_maker, security=env.settings(reset_password=limits, verify=limits))

    async with client_for(app) as client:
        resets = await asyncio.gather(
            *(client.post("/auth/reset-password", json={"token": f"bad{n}", "password": PASSWORD}) for n in range(30))
        )
        verifies = await asyncio.gather(*(client.post("/auth/verify", json={"token": f"bad{n}"}) for n in range(30)))

    for statuses in (tally(list(resets)), tally(list(verifies))):
        assert statuses[400] <= 20
        assert statuses[400] + statuses[429] == 30
