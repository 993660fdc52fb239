"""Idle timeout and absolute lifetime, enforced separately (T27), with a frozen clock."""

from __future__ import annotations

from tests.sessions.harness import ABSOLUTE, IDLE, RefreshHarness


async def test_idle_session_ends(harness: RefreshHarness) -> None:
    """A session not refreshed for the idle timeout ends: refresh and access token both get 401."""
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair("bearer", "arthur@camelot.bt")
    harness.clock.advance(IDLE - 1)
    assert await harness.me_status(pair.session()) == 200

    harness.clock.advance(1)

    assert await harness.me_status(pair.session()) == 401
    assert await harness.refresh_status(pair) == 401


async def test_refresh_restarts_the_idle_timeout(harness: RefreshHarness) -> None:
    """Refreshing before the idle timeout keeps the session alive past it."""
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair("bearer", "arthur@camelot.bt")

    for _ in range(3):
        harness.clock.advance(IDLE - 1)
        pair = await harness.rotate(pair)

    assert await harness.me_status(pair.session()) == 200


async def test_absolute_lifetime_ends_an_active_session(harness: RefreshHarness) -> None:
    """However often it refreshes, a session ends at its absolute lifetime."""
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair("bearer", "arthur@camelot.bt")
    steps = ABSOLUTE // (IDLE - 1)
    for _ in range(steps):
        harness.clock.advance(IDLE - 1)
        pair = await harness.rotate(pair)
    assert await harness.me_status(pair.session()) == 200

    harness.clock.advance(ABSOLUTE - steps * (IDLE - 1))

    assert await harness.me_status(pair.session()) == 401
    assert await harness.refresh_status(pair) == 401


async def test_expired_sessions_are_not_listed(harness: RefreshHarness) -> None:
    """``GET /sessions`` shows live sessions only."""
    await harness.register("arthur@camelot.bt")
    old = await harness.login_pair("bearer", "arthur@camelot.bt")
    harness.clock.advance(IDLE - 10)
    fresh = await harness.login_pair("bearer", "arthur@camelot.bt")
    harness.clock.advance(10)

    response = await harness.client.get("/sessions", headers=fresh.session().headers())

    assert response.status_code == 200
    assert len(response.json()) == 1
    assert response.json()[0]["current"] is True
    assert await harness.me_status(old.session()) == 401
