"""The pytest plugin, used as an application's suite uses it, on SQLite and PostgreSQL.

The plugin is imported above ``pytest_plugins``, as an application's ``conftest.py`` does: its
``PYTEST_DONT_REWRITE`` marker keeps pytest (warnings as errors) from refusing it.
"""

from __future__ import annotations

import pytest

from fastapi_userkit.testing import (
    AuthClientFactory,
    FrozenClock,
    Outbox,
    ThrottleReset,
    UserFactory,
    UserkitTestApp,
)
from tests.conftest import SessionMaker
from tests.testing import shop

pytest_plugins = ["fastapi_userkit.testing"]

PASSWORD = "guinevere-and-the-grail"


@pytest.fixture
def userkit_app(http_db: SessionMaker, clock: FrozenClock) -> UserkitTestApp:
    """The shop application, handed to the plugin."""
    return shop.build(http_db, clock)


async def test_make_user_goes_through_the_app_manager(make_user: UserFactory, auth_client: AuthClientFactory) -> None:
    """make_user creates a user with the flags asked for; a bearer client logged in as them reads /users/me."""
    user = await make_user(email="arthur@camelot.bt", is_verified=True, is_superuser=True, first_name="Arthur")

    client = await auth_client(user)
    me = await client.get("/users/me")

    assert me.status_code == 200, me.text
    assert me.json()["email"] == "arthur@camelot.bt"
    assert me.json()["is_superuser"] is True
    assert me.json()["first_name"] == "Arthur"


async def test_cookie_client_passes_csrf_token_mode(make_user: UserFactory, auth_client: AuthClientFactory) -> None:
    """A cookie client changes state in CSRF token mode; the same request with a forged token header is 403."""
    user = await make_user(email="kay@camelot.bt")
    client = await auth_client(user, backend="cookie")

    patched = await client.patch("/users/me", json={"first_name": "Kay"})
    forged = await client.patch("/users/me", json={"first_name": "Mordred"}, headers={"X-CSRF-Token": "forged"})

    assert patched.status_code == 200, patched.text
    assert patched.json()["first_name"] == "Kay"
    assert forged.status_code == 403, forged.text


async def test_outbox_reads_reset_and_verify_tokens(
    make_user: UserFactory, auth_client: AuthClientFactory, outbox: Outbox, userkit_app: UserkitTestApp
) -> None:
    """The outbox captures the reset and verification e-mails; their tokens reset the password and verify."""
    user = await make_user(email="gawain@camelot.bt")
    async with userkit_app.client() as client:
        await client.post("/auth/forgot-password", json={"email": "gawain@camelot.bt"})
        await client.post("/auth/request-verify-token", json={"email": "gawain@camelot.bt"})
        # Verified first: a reset of a never-verified account verifies it (the first proof of the address).
        verified = await client.post("/auth/verify", json={"token": outbox.verify_token("gawain@camelot.bt")})
        reset = await client.post("/auth/reset-password", json={"token": outbox.reset_token(), "password": PASSWORD})

    assert reset.status_code == 200, reset.text
    assert verified.json()["is_verified"] is True
    assert outbox.last(to="gawain@camelot.bt").subject
    assert any(link.startswith("https://shop.example/verify?token=") for m in outbox.messages for link in m.links)
    assert (await auth_client(user, password=PASSWORD)).headers["Authorization"].startswith("Bearer ")


async def test_clock_expires_tokens(make_user: UserFactory, auth_client: AuthClientFactory, clock: FrozenClock) -> None:
    """Moving the injected clock past the database token's lifetime ends the session without waiting."""
    client = await auth_client(await make_user(email="bors@camelot.bt"))

    before = await client.get("/users/me")
    clock.advance(minutes=2)
    after = await client.get("/users/me")

    assert before.status_code == 200
    assert after.status_code == 401


async def test_reset_throttling_empties_the_counters(
    userkit_app: UserkitTestApp, reset_throttling: ThrottleReset
) -> None:
    """After 20 failed logins from one client the next is 429; awaiting reset_throttling lets it through again."""
    form = {"username": "nobody@camelot.bt", "password": "wrong-password"}
    async with userkit_app.client() as client:
        for _ in range(20):
            await client.post("/auth/jwt/login", data=form)
        blocked = await client.post("/auth/jwt/login", data=form)
        await reset_throttling()
        again = await client.post("/auth/jwt/login", data=form)

    assert blocked.status_code == 429
    assert again.status_code == 400


async def test_clock_moves_the_rate_limit_window(
    userkit_app: UserkitTestApp, reset_throttling: ThrottleReset, clock: FrozenClock
) -> None:
    """RateLimitSettings(clock=clock.time): once the clock passes the window, the client may try again."""
    form = {"username": "nobody@camelot.bt", "password": "wrong-password"}
    async with userkit_app.client() as client:
        for _ in range(20):
            await client.post("/auth/jwt/login", data=form)
        blocked = await client.post("/auth/jwt/login", data=form)
        clock.advance(seconds=61)
        again = await client.post("/auth/jwt/login", data=form)

    assert blocked.status_code == 429
    assert again.status_code == 400


async def test_auth_client_reports_a_refused_login(make_user: UserFactory, auth_client: AuthClientFactory) -> None:
    """A login the app refuses fails the test with the backend, the status and the body."""
    user = await make_user(email="dagonet@camelot.bt")

    with pytest.raises(AssertionError, match=r"login of dagonet@camelot\.bt on 'jwt' answered 400"):
        await auth_client(user, password="not-the-password")
