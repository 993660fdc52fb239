"""Refresh rotation and reuse detection (RFC 9700 section 4.14.2; T28, T29), in every store."""

from __future__ import annotations

import logging

import pytest

from fastapi_userkit.sessions import REFRESH_TOKEN_PREFIX
from tests.sessions.harness import RefreshHarness
from tests.strategies.apps import LIFETIME, Session


async def test_login_returns_both_tokens(harness: RefreshHarness) -> None:
    """A bearer login answers access token, refresh token, token type and lifetime."""
    await harness.register("arthur@camelot.bt")

    response = await harness.client.post(
        "/auth/bearer/login", data={"username": "arthur@camelot.bt", "password": "a long passphrase"}
    )

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", LIFETIME)
    assert body["refresh_token"].startswith(REFRESH_TOKEN_PREFIX)
    assert response.headers["cache-control"] == "no-store"


async def test_rotation_chain(harness: RefreshHarness) -> None:
    """Each refresh hands out a new pair; every new access token works, and so does the last refresh token."""
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair("bearer", "arthur@camelot.bt")
    seen = {pair.refresh}

    for _ in range(4):
        pair = await harness.rotate(pair)
        assert pair.refresh not in seen
        seen.add(pair.refresh)
        assert await harness.me_status(pair.session()) == 200

    assert await harness.refresh_status(pair) == 200


async def test_rotated_token_stops_working_and_revokes_its_family(harness: RefreshHarness) -> None:
    """Presenting a rotated token gets 401 and ends the session: its newest tokens die too."""
    await harness.register("arthur@camelot.bt")
    first = await harness.login_pair("bearer", "arthur@camelot.bt")
    second = await harness.rotate(first)
    third = await harness.rotate(second)

    replay = await harness.refresh_status(first)

    assert replay == 401
    assert await harness.refresh_status(third) == 401
    assert await harness.me_status(third.session()) == 401
    assert await harness.me_status(second.session()) == 401


async def test_reuse_revokes_only_that_family(harness: RefreshHarness, caplog: pytest.LogCaptureFixture) -> None:
    """Reuse ends the one session it belongs to, emits a security event, and spares every other session."""
    await harness.register("arthur@camelot.bt")
    await harness.register("lancelot@camelot.bt")
    stolen = await harness.login_pair("bearer", "arthur@camelot.bt")
    other_device = await harness.login_pair("cookie", "arthur@camelot.bt")
    other_user = await harness.login_pair("bearer", "lancelot@camelot.bt")
    current = await harness.rotate(stolen)

    with caplog.at_level(logging.INFO, logger="fastapi_userkit.security"):
        assert await harness.refresh_status(stolen) == 401

    events = [getattr(record, "security_event", {}) for record in caplog.records]
    reuse = [event for event in events if event.get("type") == "refresh_token_reuse"]
    assert len(reuse) == 1
    assert reuse[0]["outcome"] == "failure"
    assert await harness.me_status(current.session()) == 401
    assert await harness.me_status(other_device.session()) == 200
    assert await harness.me_status(other_user.session()) == 200
    assert await harness.refresh_status(other_device) == 204
    assert await harness.refresh_status(other_user) == 200


async def test_access_token_is_not_a_refresh_token(harness: RefreshHarness) -> None:
    """An access token sent to the refresh route gets 401, and its session lives on."""
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair("bearer", "arthur@camelot.bt")
    cookie_pair = await harness.login_pair("cookie", "arthur@camelot.bt")

    bearer = await harness.client.post("/auth/bearer/refresh", json={"refresh_token": pair.access})
    cookie = await harness.refresh("cookie", cookie_pair.access)

    assert (bearer.status_code, cookie.status_code) == (401, 401)
    assert await harness.me_status(pair.session()) == 200
    assert await harness.refresh_status(pair) == 200


async def test_refresh_token_is_not_an_access_token(harness: RefreshHarness) -> None:
    """A refresh token sent as an access token, in the header or the cookie, gets 401."""
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair("bearer", "arthur@camelot.bt")

    as_bearer = await harness.me_status(Session("bearer", pair.refresh))
    as_cookie = await harness.me_status(Session("cookie", pair.refresh))

    assert (as_bearer, as_cookie) == (401, 401)


@pytest.mark.parametrize(
    "body",
    [None, {}, {"refresh_token": ""}, {"refresh_token": "ukrt_" + "A" * 43}, {"refresh_token": "ukrt_\x00"}],
)
async def test_missing_or_unknown_refresh_token(harness: RefreshHarness, body: dict[str, str] | None) -> None:
    """No token, a malformed one or an unknown one gets 401 (or 422 for a body without the field)."""
    response = await harness.client.post("/auth/bearer/refresh", json=body)

    assert response.status_code == (422 if body == {} else 401)
