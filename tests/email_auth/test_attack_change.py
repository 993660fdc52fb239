"""Attacks on the confirmed e-mail change (T40) from an intruder who once held a session.

An intruder with a stolen (fresh) session asks to move the account to an address they read.
The owner, warned by the notice, resets the password: that must end the intruder's pending
change too, not only the sessions, or the intruder confirms it within the hour, moves the
account to their address and takes it over with "forgot password" (the confirmation link is
bound to the password the account had when the change was asked for, as reset tokens are).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fastapi_userkit.email_auth import EmailAuthMailer
from fastapi_userkit.testing import Outbox
from tests.conftest import SessionMaker
from tests.email_auth.conftest import Log
from tests.email_auth.test_change_routes import NEW, OLD, Site, build_site
from tests.mfa.http_support import clear_rate_limits
from tests.router.helpers import PASSWORD, create_user

OWNERS_NEW_PASSWORD = "excalibur-back-in-the-lake-3"


async def _recovers_with_a_reset(site: Site) -> bool:
    """The owner gets a reset link at the restored address, sets a new password and signs in with it."""
    assert (await site.http.post("/auth/forgot-password", json={"email": OLD})).status_code == 202
    token = site.test_app.hooks.last("on_after_forgot_password")["token"]
    reset = await site.http.post("/auth/reset-password", json={"token": token, "password": OWNERS_NEW_PASSWORD})
    assert reset.status_code == 200, reset.text
    return (await site.login(OLD, password=OWNERS_NEW_PASSWORD)).status_code == 200


@pytest.fixture
async def site(db: SessionMaker, mailer: EmailAuthMailer, outbox: Outbox, log: Log) -> AsyncIterator[Site]:
    """The app with the e-mail change routes, on every database, with a verified user at OLD."""
    await clear_rate_limits(db)
    test_app, clock = build_site(db, mailer, outbox, log)
    await create_user(test_app, OLD, is_verified=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(test_app.app), base_url="http://test") as http:
        yield Site(test_app, http, outbox, clock)


async def test_a_password_reset_kills_a_pending_change_s_confirmation(site: Site) -> None:
    """The confirmation link asked for before a password reset is refused after it; a new request works."""
    intruder = await site.headers()
    assert (await site.ask(intruder)).status_code == 202
    confirm, _ = site.tokens()

    await site.http.post("/auth/forgot-password", json={"email": OLD})
    reset_token = site.test_app.hooks.last("on_after_forgot_password")["token"]
    reset = await site.http.post("/auth/reset-password", json={"token": reset_token, "password": PASSWORD + "!"})
    confirmed = await site.confirm(confirm)
    owner = await site.login(password=PASSWORD + "!")

    assert reset.status_code == 200, reset.text
    assert (confirmed.status_code, confirmed.json()) == (400, {"detail": "EMAIL_LINK_INVALID"})
    assert owner.status_code == 200
    owner_headers = {"Authorization": f"Bearer {owner.json()['access_token']}"}
    assert (await site.me(owner_headers)).json()["email"] == OLD
    assert (await site.ask(owner_headers, NEW)).status_code == 202
    assert (await site.confirm(site.tokens()[0])).status_code == 200


async def test_a_later_change_s_revert_does_not_kill_the_owner_s_revert_link(site: Site) -> None:
    """The intruder moves the account to their address, asks another change and reverts it first.

    That revert (its link went to the intruder's address) must not close the owner's older
    "this was not me" link: the owner's link still restores the owner's address.
    """
    intruder = await site.headers()
    assert (await site.ask(intruder)).status_code == 202
    confirm, owner_revert = site.tokens()
    assert (await site.confirm(confirm)).status_code == 200
    site.clock.advance(seconds=30)
    assert (await site.ask(intruder, "arthur@tintagel.bt")).status_code == 202
    _, intruder_revert = site.tokens(new="arthur@tintagel.bt", old=NEW)
    intruders = await site.revert(intruder_revert)

    owners = await site.revert(owner_revert)

    assert intruders.status_code == 200, intruders.text
    assert owners.status_code == 200, owners.text
    assert owners.json()["email"] == OLD
    assert await _recovers_with_a_reset(site)


async def test_a_reset_link_sent_to_the_intruder_s_address_dies_with_the_revert(site: Site) -> None:
    """A reset link mailed to the address the intruder set is bound to that address (as verify links are).

    The intruder moves the account to their address and asks for a reset link there, keeping it;
    once the owner reverts, the link sets no password.
    """
    intruder = await site.headers()
    assert (await site.ask(intruder)).status_code == 202
    confirm, owner_revert = site.tokens()
    assert (await site.confirm(confirm)).status_code == 200
    await site.http.post("/auth/forgot-password", json={"email": NEW})
    kept = site.test_app.hooks.last("on_after_forgot_password")["token"]

    assert (await site.revert(owner_revert)).status_code == 200
    reset = await site.http.post("/auth/reset-password", json={"token": kept, "password": "intruder-chose-this-1"})

    assert (reset.status_code, reset.json()) == (400, {"detail": "RESET_PASSWORD_BAD_TOKEN"})
    assert (await site.login(OLD, password="intruder-chose-this-1")).status_code == 400
    assert await _recovers_with_a_reset(site)


@pytest.mark.parametrize("confirmed", [True, False])
async def test_a_revert_makes_the_password_the_intruder_knows_unusable(site: Site, confirmed: bool) -> None:
    """ "This was not me" means the account was taken, with a fresh sign-in: the password stops working.

    The answer says so; the owner recovers with "forgot password", whose link goes to the restored
    address. A change only pending (never confirmed) is a takeover report all the same.
    """
    intruder = await site.headers()
    assert (await site.ask(intruder)).status_code == 202
    confirm, owner_revert = site.tokens()
    if confirmed:
        assert (await site.confirm(confirm)).status_code == 200

    reverted = await site.revert(owner_revert)

    assert reverted.status_code == 200, reverted.text
    assert reverted.json() == {"email": OLD, "restored": confirmed, "address_taken": False, "password_cleared": True}
    assert (await site.login(OLD)).status_code == 400
    assert (await site.me(intruder)).status_code == 401
    assert await _recovers_with_a_reset(site)
