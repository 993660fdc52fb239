"""``/sessions`` and ``/users/{id}/sessions``: list and end sessions, mine and (as a superuser) anyone's."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fastapi_userkit.exceptions import ConfigurationError
from tests.app_factory import make_app
from tests.conftest import SessionMaker
from tests.sessions.harness import Pair, RefreshHarness


async def _list(harness: RefreshHarness, pair: Pair, path: str = "/sessions") -> list[dict[str, Any]]:
    response = await harness.client.get(path, headers=pair.session().headers())
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()
    return sessions


async def test_list_my_sessions(harness: RefreshHarness) -> None:
    """My sessions are listed newest first with their details; the requesting one is ``current``."""
    await harness.register("arthur@camelot.bt")
    await harness.register("lancelot@camelot.bt")
    first = await harness.login_pair("bearer", "arthur@camelot.bt")
    harness.clock.advance(5)
    second = await harness.login_pair("cookie", "arthur@camelot.bt")
    await harness.login_pair("bearer", "lancelot@camelot.bt")

    sessions = await _list(harness, first)

    assert len(sessions) == 2
    assert [entry["current"] for entry in sessions] == [False, True]
    assert sessions[0]["created_at"] > sessions[1]["created_at"]
    assert set(sessions[0]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "ip_address",
        "user_agent",
        "current",
    }
    assert sessions[0]["user_agent"].startswith("python-httpx")
    assert await harness.me_status(second.session()) == 200


async def test_end_one_of_my_sessions(harness: RefreshHarness) -> None:
    """Ending one of my sessions kills its refresh and access tokens, and only those."""
    await harness.register("arthur@camelot.bt")
    mine = await harness.login_pair("bearer", "arthur@camelot.bt")
    lost_phone = await harness.login_pair("bearer", "arthur@camelot.bt")
    target = next(entry["id"] for entry in await _list(harness, mine) if not entry["current"])

    response = await harness.client.delete(f"/sessions/{target}", headers=mine.session().headers())

    assert response.status_code == 204
    assert await harness.me_status(lost_phone.session()) == 401
    assert await harness.refresh_status(lost_phone) == 401
    assert await harness.me_status(mine.session()) == 200
    assert [entry["current"] for entry in await _list(harness, mine)] == [True]


@pytest.mark.parametrize("make_id", [lambda other: other, lambda _: str(uuid.uuid4()), lambda _: "not-a-uuid"])
async def test_cannot_end_another_users_session(harness: RefreshHarness, make_id: Any) -> None:
    """Another user's session id, an unknown id and a malformed one all get 404; nothing ends."""
    await harness.register("arthur@camelot.bt")
    await harness.register("mordred@camelot.bt")
    victim = await harness.login_pair("bearer", "arthur@camelot.bt")
    attacker = await harness.login_pair("bearer", "mordred@camelot.bt")
    victim_session = (await _list(harness, victim))[0]["id"]

    response = await harness.client.delete(f"/sessions/{make_id(victim_session)}", headers=attacker.session().headers())

    assert response.status_code == 404
    assert await harness.me_status(victim.session()) == 200


async def test_end_all_other_sessions(harness: RefreshHarness) -> None:
    """``DELETE /sessions`` ends all my sessions but the current one."""
    await harness.register("arthur@camelot.bt")
    mine = await harness.login_pair("bearer", "arthur@camelot.bt")
    others = [await harness.login_pair(transport, "arthur@camelot.bt") for transport in ("bearer", "cookie")]

    response = await harness.client.delete("/sessions", headers=mine.session().headers())

    assert response.status_code == 204
    assert [await harness.me_status(pair.session()) for pair in others] == [401, 401]
    assert await harness.refresh_status(mine) == 200


async def test_superuser_lists_and_ends_a_users_sessions(harness: RefreshHarness) -> None:
    """A superuser lists a user's sessions, ends one, then all of them."""
    admin = await harness.make_superuser("merlin@camelot.bt")
    admin_pair = Pair("bearer", admin.token, "")
    user_id = await harness.register("arthur@camelot.bt")
    laptop = await harness.login_pair("bearer", "arthur@camelot.bt")
    harness.clock.advance(1)
    phone = await harness.login_pair("cookie", "arthur@camelot.bt")
    listed = await _list(harness, admin_pair, f"/users/{user_id}/sessions")
    phone_id = listed[0]["id"]

    one = await harness.client.delete(f"/users/{user_id}/sessions/{phone_id}", headers=admin.headers())
    phone_status = await harness.me_status(phone.session())
    laptop_status = await harness.me_status(laptop.session())
    everything = await harness.client.delete(f"/users/{user_id}/sessions", headers=admin.headers())

    assert [entry["current"] for entry in listed] == [False, False]
    assert (one.status_code, phone_status, laptop_status) == (204, 401, 200)
    assert everything.status_code == 204
    assert await harness.me_status(laptop.session()) == 401
    assert await harness.me_status(admin) == 200


async def test_admin_routes_need_a_superuser(harness: RefreshHarness) -> None:
    """A regular user gets 403 on another user's sessions, and an unknown user id is 404 for a superuser."""
    user_id = await harness.register("arthur@camelot.bt")
    await harness.register("mordred@camelot.bt")
    mordred = await harness.login_pair("bearer", "mordred@camelot.bt")
    admin = await harness.make_superuser("merlin@camelot.bt")

    listing = await harness.client.get(f"/users/{user_id}/sessions", headers=mordred.session().headers())
    ending = await harness.client.delete(f"/users/{user_id}/sessions", headers=mordred.session().headers())
    unknown = await harness.client.get(f"/users/{uuid.uuid4()}/sessions", headers=admin.headers())
    anonymous = await harness.client.get("/sessions")

    assert (listing.status_code, ending.status_code, unknown.status_code, anonymous.status_code) == (403, 403, 404, 401)


def test_sessions_router_needs_a_backend_with_refresh(tmp_path: object, db: SessionMaker) -> None:
    """Asking for the sessions router without any backend with refresh on fails at wiring time."""
    test_app = make_app(db)

    with pytest.raises(ConfigurationError):
        test_app.fastapi_users.get_sessions_router()
