"""Rate limits hold across real worker processes (issue 16, item 3), counters in PostgreSQL or Redis."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from tests.strategies.test_two_workers import workers

pytestmark = pytest.mark.slow
__all__ = ["workers"]  # the two-uvicorn fixture, reused


@pytest.fixture(params=["sql", "redis"])
def counters(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the workers keep their rate-limit counters (read by the worker app at start-up)."""
    monkeypatch.setenv("USERKIT_E2E_RATE_LIMIT", str(request.param))
    return str(request.param)


@pytest.mark.parametrize(("http_backend", "workers"), [("postgresql", "database")], indirect=True)
async def test_parallel_guesses_across_two_workers_stop_at_the_budgets(counters: str, workers: list[str]) -> None:
    """15 simultaneous wrong passwords for one account, spread over two workers: at most 5 reach the check.

    Then 30 simultaneous wrong passwords for other accounts from the same IP: the per-IP budget
    of 20 failures a minute lets at most 15 more through (5 of it are spent).
    """
    first, second = workers
    async with httpx.AsyncClient(timeout=30) as client:
        registered = await client.post(
            f"{first}/auth/register", json={"email": "gawain@camelot.bt", "password": "green knight 1234"}
        )
        assert registered.status_code == 201, registered.text

        async def guess(n: int, email: str = "gawain@camelot.bt") -> int:
            url = f"{(first, second)[n % 2]}/auth/bearer/login"
            response = await client.post(url, data={"username": email, "password": f"wrong guess {n}"})
            return response.status_code

        one_account = Counter(await asyncio.gather(*(guess(n) for n in range(15))))
        many_accounts = Counter(await asyncio.gather(*(guess(n, f"knight{n}@camelot.bt") for n in range(30))))

    assert 1 <= one_account[400] <= 5
    assert one_account[400] + one_account[429] == 15
    assert one_account[400] + many_accounts[400] <= 20
    assert many_accounts[400] + many_accounts[429] == 30
