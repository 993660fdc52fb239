"""Sessions end with logout, password change or reset, deactivation and deletion, for every strategy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SessionMaker
from tests.sessions.conftest import RedisFactory
from tests.sessions.harness import Clock, RefreshHarness, make_store, refresh_app, refresh_harness
from tests.strategies.apps import Transport

TRANSPORTS: list[Transport] = ["bearer", "cookie"]


@pytest.fixture(params=["jwt", "database", "redis"])
async def any_strategy(
    request: pytest.FixtureRequest, http_db: SessionMaker, redis_factory: RedisFactory
) -> AsyncIterator[RefreshHarness]:
    """Refresh on over JWT, database and Redis access tokens (SQL sessions, SQLite and PostgreSQL)."""
    client = await redis_factory() if request.param == "redis" else None
    store, clock = make_store("sql", http_db, None), Clock()
    test_app = refresh_app(http_db, store, kind=request.param, redis_client=client, clock=clock)
    async for harness in refresh_harness(test_app, store, clock):
        yield harness


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_ending_a_session_ends_its_access_tokens(any_strategy: RefreshHarness, transport: Transport) -> None:
    """Whatever the strategy, an access token bound to an ended session gets 401 at once."""
    harness = any_strategy
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair(transport, "arthur@camelot.bt")
    refreshed = await harness.rotate(pair)
    session_id = (await harness.store.list_for_user((await harness.user_by_email("arthur@camelot.bt")).id))[0].id

    await harness.store.delete(session_id)

    assert await harness.me_status(pair.session()) == 401
    assert await harness.me_status(refreshed.session()) == 401


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_logout_ends_the_session(any_strategy: RefreshHarness, transport: Transport) -> None:
    """Logout ends the session: its refresh token dies, the cookie client's refresh cookie is cleared."""
    harness = any_strategy
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair(transport, "arthur@camelot.bt")
    other = await harness.login_pair("bearer", "arthur@camelot.bt")

    response = await harness.client.post(f"/auth/{transport}/logout", headers=pair.session().headers())

    assert response.status_code == 204
    if transport == "cookie":
        cleared = [header for header in response.headers.get_list("set-cookie") if "fastapiusersrefresh" in header]
        assert len(cleared) == 1
        assert "Max-Age=0" in cleared[0]
        assert "Path=/auth/cookie/refresh" in cleared[0]
    assert await harness.refresh_status(pair) == 401
    assert await harness.refresh_status(other) == 200


async def test_logout_all_ends_every_session(any_strategy: RefreshHarness) -> None:
    """``POST /logout-all`` ends every session and refresh family of the user."""
    harness = any_strategy
    await harness.register("arthur@camelot.bt")
    pairs = [await harness.login_pair(transport, "arthur@camelot.bt") for transport in ("bearer", "cookie", "bearer")]

    response = await harness.client.post("/auth/bearer/logout-all", headers=pairs[0].session().headers())

    assert response.status_code == 204
    assert [await harness.refresh_status(pair) for pair in pairs] == [401, 401, 401]


async def test_password_change_ends_sessions_and_renews_the_cookie_one(any_strategy: RefreshHarness) -> None:
    """A password change ends every session; the cookie client that made it gets a new session."""
    harness = any_strategy
    await harness.register("arthur@camelot.bt")
    changer = await harness.login_pair("cookie", "arthur@camelot.bt")
    other = await harness.login_pair("bearer", "arthur@camelot.bt")

    response = await harness.client.patch(
        "/users/me", json={"password": "a brand new passphrase"}, headers=changer.session().headers()
    )

    assert response.status_code == 200, response.text
    renewed = harness.pair_from("cookie", response)
    assert await harness.refresh_status(other) == 401
    assert await harness.refresh_status(changer) == 401
    assert await harness.me_status(other.session()) == 401
    assert await harness.me_status(renewed.session()) == 200
    assert await harness.refresh_status(renewed) == 204


async def test_reset_password_ends_sessions(any_strategy: RefreshHarness) -> None:
    """A password reset ends every session and refresh family."""
    harness = any_strategy
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair("bearer", "arthur@camelot.bt")
    await harness.client.post("/auth/forgot-password", json={"email": "arthur@camelot.bt"})
    token = harness.test_app.hooks.last("on_after_forgot_password")["token"]

    response = await harness.client.post("/auth/reset-password", json={"token": token, "password": "another phrase"})

    assert response.status_code == 200
    assert await harness.refresh_status(pair) == 401
    assert await harness.me_status(pair.session()) == 401


async def test_deactivation_and_deletion_end_sessions(any_strategy: RefreshHarness) -> None:
    """Deactivating a user ends its sessions for good; deleting one ends them too."""
    harness = any_strategy
    admin = await harness.make_superuser("merlin@camelot.bt")
    tristan = await harness.register("tristan@camelot.bt")
    agravain = await harness.register("agravain@camelot.bt")
    deactivated = await harness.login_pair("bearer", "tristan@camelot.bt")
    deleted = await harness.login_pair("cookie", "agravain@camelot.bt")

    await harness.client.patch(f"/users/{tristan}", json={"is_active": False}, headers=admin.headers())
    await harness.client.patch(f"/users/{tristan}", json={"is_active": True}, headers=admin.headers())
    await harness.client.delete(f"/users/{agravain}", headers=admin.headers())

    assert await harness.refresh_status(deactivated) == 401
    assert await harness.me_status(deactivated.session()) == 401
    assert await harness.refresh_status(deleted) == 401
    assert await harness.me_status(deleted.session()) == 401
