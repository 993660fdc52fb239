"""Three real worker processes behave as one app (issue 22, item 1).

Each test spreads its requests over three uvicorn processes sharing PostgreSQL (and Redis in the
``redis`` deployment: Redis tokens, counters and sessions; in the ``sql`` one: database tokens,
SQL counters, SQL sessions). Nothing lives in process memory, so an account's budget, a logout
or a single-use token counts once in total, not once per worker.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.scale.client import SpreadClient, Tokens, http_client, mailed_token, make_superuser
from tests.scale.conftest import Deployment

pytestmark = pytest.mark.slow


async def test_per_account_and_per_ip_budgets_hold_in_total(deployed: Deployment) -> None:
    """Simultaneous requests over three workers get exactly each budget through, not one per worker.

    15 wrong passwords for one account: 5 checks (the login throttle's free failures); 30 wrong
    logins from one address to 30 accounts: 20 (the per-IP budget); 15 forgot-password requests
    for one account: 5 (its per-account budget, which counts every request).
    """
    async with http_client() as http:
        client = SpreadClient(deployed.workers, http)
        await client.register("gawain@camelot.bt")

        async def guess(n: int, email: str = "gawain@camelot.bt") -> int:
            data = {"username": email, "password": f"wrong guess {n}"}
            return (await client.request("POST", "/auth/bearer/login", worker=n, data=data)).status_code

        one_account = Counter(await asyncio.gather(*(guess(n) for n in range(15))))
        spray = SpreadClient(deployed.workers, http)

        async def spray_guess(n: int) -> int:
            data = {"username": f"squire{n}@camelot.bt", "password": "wrong guess"}
            return (await spray.request("POST", "/auth/bearer/login", worker=n, data=data)).status_code

        one_address = Counter(await asyncio.gather(*(spray_guess(n) for n in range(30))))
        mailer = SpreadClient(deployed.workers, http)

        async def forgot(n: int) -> int:
            body = {"email": "gawain@camelot.bt"}
            return (await mailer.request("POST", "/auth/forgot-password", worker=n, json=body)).status_code

        mails = Counter(await asyncio.gather(*(forgot(n) for n in range(15))))

    assert one_account == Counter({400: 5, 429: 10})
    assert one_address == Counter({400: 20, 429: 10})
    assert mails == Counter({202: 5, 429: 10})


async def _ended_everywhere(client: SpreadClient, tokens: Tokens) -> None:
    assert await client.me_everywhere(tokens) == [401, 401, 401]
    if tokens.refresh is not None:
        assert await client.refresh_everywhere(tokens) == [401, 401, 401]


async def test_logout_and_logout_all_are_seen_by_every_worker(deployed: Deployment) -> None:
    """A logout on one worker, then a logout-all on another: every worker refuses the ended tokens."""
    async with http_client() as http:
        client = SpreadClient(deployed.workers, http)
        await client.register("bors@camelot.bt")
        first, second, third = [await client.login("bors@camelot.bt") for _ in range(3)]
        assert await client.me_everywhere(first) == [200, 200, 200]

        logout = await client.request("POST", "/auth/bearer/logout", worker=0, headers=first.headers())
        await _ended_everywhere(client, first)
        assert await client.me_everywhere(second) == [200, 200, 200]
        logout_all = await client.request("POST", "/auth/bearer/logout-all", worker=1, headers=second.headers())
        await _ended_everywhere(client, second)
        await _ended_everywhere(client, third)

    assert logout.status_code in {200, 204}
    assert logout_all.status_code in {200, 204}


async def test_ending_one_session_is_seen_by_every_worker(deployed: Deployment) -> None:
    """``DELETE /sessions/{id}`` on one worker ends that session's tokens on all three."""
    async with http_client() as http:
        client = SpreadClient(deployed.workers, http)
        await client.register("lamorak@camelot.bt")
        phone = await client.login("lamorak@camelot.bt")
        laptop = await client.login("lamorak@camelot.bt")
        listed = await client.request("GET", "/sessions", worker=2, headers=laptop.headers())
        phone_id = next(row["id"] for row in listed.json() if not row["current"])
        ended = await client.request("DELETE", f"/sessions/{phone_id}", worker=0, headers=laptop.headers())
        await _ended_everywhere(client, phone)
        assert await client.me_everywhere(laptop) == [200, 200, 200]

    assert ended.status_code == 204


async def test_password_change_and_deactivation_are_seen_by_every_worker(deployed: Deployment) -> None:
    """A password change ends the other sessions on every worker; a deactivation ends all of them."""
    async with http_client() as http:
        client = SpreadClient(deployed.workers, http)
        user_id = await client.register("tristan@camelot.bt")
        admin_id = await client.register("arthur@camelot.bt")
        engine = deployed.engine()
        try:
            await make_superuser(engine, admin_id)
        finally:
            await engine.dispose()
        admin = await client.login("arthur@camelot.bt")
        other, jwt = await client.login("tristan@camelot.bt"), await client.login("tristan@camelot.bt", "jwt")
        changer = await client.login("tristan@camelot.bt")
        body = {"password": "a new long passphrase"}
        changed = await client.request("PATCH", "/users/me", worker=1, headers=changer.headers(), json=body)
        await _ended_everywhere(client, other)
        await _ended_everywhere(client, jwt)

        later = await client.login("tristan@camelot.bt", password="a new long passphrase")
        later_jwt = await client.login("tristan@camelot.bt", "jwt", password="a new long passphrase")
        assert await client.me_everywhere(later) == [200, 200, 200]
        deactivate = {"is_active": False}
        off = await client.request("PATCH", f"/users/{user_id}", worker=2, headers=admin.headers(), json=deactivate)
        await _ended_everywhere(client, later)
        await _ended_everywhere(client, later_jwt)

    assert changed.status_code == 200, changed.text
    assert off.status_code == 200, off.text


async def test_a_revoked_jwt_is_refused_by_every_worker(deployed: Deployment) -> None:
    """A JWT logged out on one worker is refused by the three (revocation list in the database)."""
    async with http_client() as http:
        client = SpreadClient(deployed.workers, http)
        await client.register("percival@camelot.bt")
        token = await client.login("percival@camelot.bt", "jwt")
        assert await client.me_everywhere(token) == [200, 200, 200]
        logout = await client.request("POST", "/auth/jwt/logout", worker=2, headers=token.headers())
        await _ended_everywhere(client, token)

    assert logout.status_code in {200, 204}


async def test_twenty_concurrent_refreshes_have_one_winner(deployed: Deployment) -> None:
    """20 simultaneous refreshes of one token over three workers: one 200, nineteen 401, one session."""
    async with http_client() as http:
        client = SpreadClient(deployed.workers, http)
        await client.register("galahad@camelot.bt")
        tokens = await client.login("galahad@camelot.bt")

        async def refresh(n: int) -> int:
            body = {"refresh_token": tokens.refresh}
            return (await client.request("POST", "/auth/bearer/refresh", worker=n, json=body)).status_code

        statuses = Counter(await asyncio.gather(*(refresh(n) for n in range(20))))
        # Reuse of a rotated token ends its family (RFC 9700 4.14.2): the session is gone or one.
        fresh = await client.login("galahad@camelot.bt")
        sessions = await client.request("GET", "/sessions", headers=fresh.headers())

    assert statuses == Counter({200: 1, 401: 19})
    assert len([row for row in sessions.json() if not row["current"]]) <= 1


async def test_reset_and_verification_tokens_work_once_in_total(deployed: Deployment) -> None:
    """Ten simultaneous uses of one reset token and of one verification token over three workers: one each."""
    async with http_client() as http:
        client = SpreadClient(deployed.workers, http)
        await client.register("kay@camelot.bt")
        engine = deployed.engine()
        try:
            reset_token = await mailed_token(engine, "kay@camelot.bt", "forgot_password")
            verify_token = await mailed_token(engine, "kay@camelot.bt", "request_verify")
        finally:
            await engine.dispose()

        async def reset(n: int) -> int:
            body = {"token": reset_token, "password": f"passphrase number {n}"}
            return (await client.request("POST", "/auth/reset-password", worker=n, json=body)).status_code

        async def verify(n: int) -> int:
            return (await client.request("POST", "/auth/verify", worker=n, json={"token": verify_token})).status_code

        # Verification first: a reset of a never-verified account proves the address and verifies it.
        verifications = Counter(await asyncio.gather(*(verify(n) for n in range(10))))
        resets = Counter(await asyncio.gather(*(reset(n) for n in range(10))))

    assert resets == Counter({200: 1, 400: 9})
    assert verifications == Counter({200: 1, 400: 9})
