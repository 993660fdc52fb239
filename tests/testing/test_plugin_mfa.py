"""The plugin's two-factor helpers, used as an application's suite uses them, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from fastapi_userkit.testing import (
    AuthClientFactory,
    FrozenClock,
    TOTPDevice,
    TOTPEnrol,
    UserFactory,
    UserkitTestApp,
)
from fastapi_userkit.testing._mfa import enrol_totp_device
from tests.conftest import SessionMaker
from tests.testing import shop

pytest_plugins = ["fastapi_userkit.testing"]


@pytest.fixture
def userkit_app(http_db: SessionMaker, clock: FrozenClock) -> UserkitTestApp:
    """The shop application with two-factor login on, handed to the plugin."""
    return shop.build(http_db, clock, two_factor=True)


async def test_enrolled_user_logs_in_through_the_challenge(
    make_user: UserFactory, enrol_totp: TOTPEnrol, auth_client: AuthClientFactory, clock: FrozenClock
) -> None:
    """After enrol_totp, auth_client answers the 202 challenge on both backends; the factor shows as on."""
    user = await make_user(email="percival@camelot.bt")
    device = await enrol_totp(user)

    bearer = await auth_client(user)
    clock.advance(30)  # each time step signs in once (RFC 6238 section 5.2)
    cookie = await auth_client(user, backend="cookie")  # a JWT whose iat is the moved clock's time
    status = await bearer.get("/users/me/mfa")

    assert len(device.recovery_codes) >= 10
    assert (await bearer.get("/users/me")).status_code == 200
    assert (await cookie.get("/users/me")).status_code == 200
    assert status.status_code == 200, status.text
    assert status.json()["enabled"] is True
    assert status.json()["recovery_codes_left"] == len(device.recovery_codes)


async def test_password_alone_no_longer_signs_in(
    make_user: UserFactory, enrol_totp: TOTPEnrol, userkit_app: UserkitTestApp
) -> None:
    """The plugin's enrolment is the app's real one: the password alone gets the 202 challenge, no token."""
    user = await make_user(email="bors@camelot.bt", password=shop_password())
    await enrol_totp(user)

    async with userkit_app.client() as client:
        response = await client.post("/auth/jwt/login", data={"username": user.email, "password": shop_password()})

    assert response.status_code == 202, response.text
    assert response.json()["detail"] == "MFA_REQUIRED"
    assert "access_token" not in response.json()


async def test_a_user_with_a_factor_and_no_device_is_a_clear_error(
    make_user: UserFactory,
    enrol_totp: TOTPEnrol,
    auth_client: AuthClientFactory,
    userkit_totp_devices: dict[object, TOTPDevice],
) -> None:
    """auth_client names the missing enrol_totp instead of failing on a token it never got."""
    user = await make_user(email="lamorak@camelot.bt")
    await enrol_totp(user)
    userkit_totp_devices.clear()

    with pytest.raises(AssertionError, match="enrol_totp"):
        await auth_client(user)


async def test_device_codes_follow_the_clock(
    make_user: UserFactory, enrol_totp: TOTPEnrol, auth_client: AuthClientFactory, clock: FrozenClock
) -> None:
    """The device gives each step once: a third login in one step needs the clock moved, then works."""
    user = await make_user(email="gareth@camelot.bt")
    device = await enrol_totp(user)  # the confirmation spent the current step
    await auth_client(user)  # the next step (inside the window)

    with pytest.raises(RuntimeError, match="advance the clock"):
        device.code()
    clock.advance(30)
    client = await auth_client(user)

    assert (await client.get("/users/me")).status_code == 200


def test_recovery_codes_are_handed_out_once() -> None:
    """recovery_code() gives each code once and says when none is left."""
    device = TOTPDevice("JBSWY3DPEHPK3PXP", recovery_codes=["a", "b"])

    assert [device.recovery_code(), device.recovery_code()] == ["a", "b"]
    with pytest.raises(RuntimeError, match="no recovery code"):
        device.recovery_code()


async def test_enrol_totp_needs_two_factor_on(http_db: SessionMaker, clock: FrozenClock) -> None:
    """An app without FastAPIUsers(mfa=...) gets a usage error naming what is missing."""
    plain = shop.build(http_db, clock)

    with pytest.raises(pytest.UsageError, match="mfa"):
        await enrol_totp_device(plain, object())


def shop_password() -> str:
    """A password the shop's policy accepts."""
    return "gawain-and-the-green-knight"
