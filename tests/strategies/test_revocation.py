"""Every strategy and transport: logout, password change, reset, deactivation, deletion, logout-all."""

from __future__ import annotations

import pytest

from tests.strategies.apps import Harness, Transport

TRANSPORTS: list[Transport] = ["bearer", "cookie"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_logout_revokes_only_that_token(revocable: Harness, transport: Transport) -> None:
    """After logout the same token answers 401; another session of the user is untouched."""
    await revocable.register("arthur@camelot.bt")
    first = await revocable.login(transport, "arthur@camelot.bt")
    second = await revocable.login(transport, "arthur@camelot.bt")

    response = await revocable.client.post(f"/auth/{transport}/logout", headers=first.headers())

    assert response.status_code == 204
    assert await revocable.me_status(first) == 401
    assert await revocable.me_status(second) == 200


async def test_plain_jwt_logout_keeps_fastapi_users_behaviour(plain_jwt: Harness) -> None:
    """Without a revocation table, a logged-out JWT stays valid until it expires (documented)."""
    await plain_jwt.register("kay@camelot.bt")
    session = await plain_jwt.login("bearer", "kay@camelot.bt")

    response = await plain_jwt.client.post("/auth/bearer/logout", headers=session.headers())

    assert response.status_code == 204
    assert await plain_jwt.me_status(session) == 200


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_password_change_ends_other_sessions(any_strategy: Harness, transport: Transport) -> None:
    """A password change ends every other session; a cookie session is renewed, a bearer one ends."""
    harness = any_strategy
    await harness.register("gawain@camelot.bt")
    changer = await harness.login(transport, "gawain@camelot.bt")
    other = await harness.login("bearer", "gawain@camelot.bt")
    other_cookie = await harness.login("cookie", "gawain@camelot.bt")

    response = await harness.client.patch(
        "/users/me", json={"password": "a brand new passphrase"}, headers=changer.headers()
    )

    renewed = response.cookies.get("fastapiusersauth")
    harness.client.cookies.clear()
    assert response.status_code == 200, response.text
    assert await harness.me_status(other) == 401
    assert await harness.me_status(other_cookie) == 401
    assert await harness.me_status(changer) == 401
    if transport == "cookie":
        assert renewed
        assert await harness.me_status(type(changer)("cookie", renewed)) == 200
    else:
        assert renewed is None
    fresh = await harness.login("bearer", "gawain@camelot.bt", "a brand new passphrase")
    assert await harness.me_status(fresh) == 200


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_reset_password_ends_all_sessions(any_strategy: Harness, transport: Transport) -> None:
    """A password reset ends every session issued before it."""
    harness = any_strategy
    await harness.register("bedivere@camelot.bt")
    session = await harness.login(transport, "bedivere@camelot.bt")
    await harness.client.post("/auth/forgot-password", json={"email": "bedivere@camelot.bt"})
    reset_token = harness.test_app.hooks.last("on_after_forgot_password")["token"]

    response = await harness.client.post(
        "/auth/reset-password", json={"token": reset_token, "password": "another passphrase"}
    )

    assert response.status_code == 200
    assert await harness.me_status(session) == 401


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_deactivation_ends_sessions(any_strategy: Harness, transport: Transport) -> None:
    """Deactivating a user makes its tokens answer 401 on the very next request."""
    harness = any_strategy
    admin = await harness.make_superuser("merlin@camelot.bt")
    user_id = await harness.register("mordred@camelot.bt")
    session = await harness.login(transport, "mordred@camelot.bt")
    assert await harness.me_status(session) == 200

    response = await harness.client.patch(f"/users/{user_id}", json={"is_active": False}, headers=admin.headers())

    assert response.status_code == 200
    assert await harness.me_status(session) == 401


async def test_reactivation_does_not_revive_revoked_tokens(revocable: Harness) -> None:
    """Tokens ended by a deactivation stay dead when the user is reactivated."""
    admin = await revocable.make_superuser("merlin@camelot.bt")
    user_id = await revocable.register("tristan@camelot.bt")
    session = await revocable.login("bearer", "tristan@camelot.bt")

    await revocable.client.patch(f"/users/{user_id}", json={"is_active": False}, headers=admin.headers())
    await revocable.client.patch(f"/users/{user_id}", json={"is_active": True}, headers=admin.headers())

    assert await revocable.me_status(session) == 401


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_deletion_ends_sessions(any_strategy: Harness, transport: Transport) -> None:
    """Deleting a user makes its tokens answer 401."""
    harness = any_strategy
    admin = await harness.make_superuser("merlin@camelot.bt")
    user_id = await harness.register("agravain@camelot.bt")
    session = await harness.login(transport, "agravain@camelot.bt")

    response = await harness.client.delete(f"/users/{user_id}", headers=admin.headers())

    assert response.status_code == 204
    assert await harness.me_status(session) == 401


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_logout_all_ends_every_session(revocable: Harness, transport: Transport) -> None:
    """POST /logout-all ends every session of the user, in both backends, and no one else's."""
    await revocable.register("lamorak@camelot.bt")
    await revocable.register("pellinore@camelot.bt")
    sessions = [
        await revocable.login("bearer", "lamorak@camelot.bt"),
        await revocable.login("cookie", "lamorak@camelot.bt"),
        await revocable.login(transport, "lamorak@camelot.bt"),
    ]
    bystander = await revocable.login("bearer", "pellinore@camelot.bt")

    response = await revocable.client.post(f"/auth/{transport}/logout-all", headers=sessions[-1].headers())

    assert response.status_code == 204
    if transport == "cookie":
        assert 'fastapiusersauth=""' in response.headers["set-cookie"]
    assert [await revocable.me_status(session) for session in sessions] == [401, 401, 401]
    assert await revocable.me_status(bystander) == 200
    again = await revocable.login(transport, "lamorak@camelot.bt")
    assert await revocable.me_status(again) == 200
