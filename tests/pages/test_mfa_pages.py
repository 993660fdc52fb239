"""Two-factor sign-in on the pages over HTTP (issue 18, item 7), on SQLite and PostgreSQL."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import HTTPException

from fastapi_userkit import BaseUserManager
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.mail import AccountMailer, OutboxMailer
from fastapi_userkit.pages._second_step import mfa_error
from fastapi_userkit.security import Limit, RateLimitSettings, SecuritySettings
from tests.app_factory import HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock, code_at
from tests.models import OAuthAccount, User
from tests.pages.mfa_support import (
    challenge_of,
    codes_of,
    enrol_on_pages,
    mfa_pages_app,
    password_step,
    post_form,
    secret_of,
    sign_out,
    signed_in,
)
from tests.pages.support import PASSWORD, client_for, sign_up_and_in, submit

EMAIL = "ada@example.com"
NEW_PASSWORD = "a brand new passphrase here"


@pytest.fixture
def clock() -> Clock:
    """The TOTP codes' clock (the sessions' assurance keeps the real time)."""
    return Clock()


async def test_enrol_then_sign_in_with_the_second_step(http_db: SessionMaker, clock: Clock) -> None:
    """Enrolment shows the QR code, the key and the codes once; then a password alone leads to the code page."""
    test_app = mfa_pages_app(http_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        before = await client.get("/account/")
        begun = await submit(client, "/account/two-factor", "/account/two-factor/totp", {})
        enrolled = await enrol_on_pages(client, clock)
        after = await client.get("/account/")
        await sign_out(client)
        second = await password_step(client, EMAIL)
        cookie_after_password = signed_in(client)
        clock.advance(30)  # the next step: the confirming code's step cannot be used again
        done = await post_form(
            client,
            second,
            "/account/sign-in/code",
            {"challenge_token": challenge_of(second), "code": code_at(enrolled.secret, clock.now), "next": "/account/"},
        )
        account = await client.get("/account/")

    assert "Set up two-factor sign-in" in before.text
    assert "<svg" in begun.text
    assert 'id="uk-totp-secret"' in begun.text
    assert begun.headers["cache-control"] == "no-store"
    assert len(enrolled.recovery_codes) == 10
    assert 'Recovery codes left: <strong class="uk-recovery-left">10</strong>' in after.text
    assert second.status_code == 200
    assert "Enter your code" in second.text
    assert not cookie_after_password
    assert challenge_of(second) not in str(second.url)
    assert done.status_code == 303
    assert done.headers["location"] == "/account/"
    assert EMAIL in account.text


async def test_codes_page_offers_a_copy_block_and_a_download(sqlite_db: SessionMaker, clock: Clock) -> None:
    """The codes page has the codes one per line and a data: link with the same text."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        begun = await submit(client, "/account/two-factor", "/account/two-factor/totp", {})
        codes_page = await post_form(
            client, begun, "/account/two-factor/totp/confirm", {"code": code_at(secret_of(begun), clock.now)}
        )

    codes = codes_of(codes_page)
    link = urllib.parse.quote("\n".join(codes) + "\n")
    assert 'download="recovery-codes.txt"' in codes_page.text
    assert f"data:text/plain;charset=utf-8,{link}" in codes_page.text.replace("&#34;", '"')
    assert codes_page.headers["cache-control"] == "no-store"


async def test_a_wrong_code_shows_the_page_again_and_attempts_are_capped(sqlite_db: SessionMaker, clock: Clock) -> None:
    """A wrong code keeps the challenge; after five, even the right code is refused and sign-in starts over."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        enrolled = await enrol_on_pages(client, clock)
        await sign_out(client)
        page = await password_step(client, EMAIL)
        token = challenge_of(page)
        wrong = []
        for _ in range(5):
            page = await post_form(client, page, "/account/sign-in/code", {"challenge_token": token, "code": "000000"})
            wrong.append(page)
        clock.advance(30)
        late = await post_form(
            client,
            page,
            "/account/sign-in/code",
            {"challenge_token": token, "code": code_at(enrolled.secret, clock.now)},
        )

    assert [answer.status_code for answer in wrong] == [400] * 5
    assert 'data-code="MFA_INVALID_CODE"' in wrong[0].text
    assert challenge_of(wrong[0]) == token
    assert late.status_code == 400
    assert 'data-code="MFA_CHALLENGE_INVALID"' in late.text
    assert "Sign in" in late.text
    assert not signed_in(client)


async def test_a_recovery_code_signs_in_once(http_db: SessionMaker, clock: Clock) -> None:
    """A recovery code completes the second step; the same code is refused the next time; one fewer is left."""
    test_app = mfa_pages_app(http_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        enrolled = await enrol_on_pages(client, clock)
        await sign_out(client)
        code = enrolled.recovery_codes[0]
        first_page = await password_step(client, EMAIL)
        first = await post_form(
            client, first_page, "/account/sign-in/code", {"challenge_token": challenge_of(first_page), "code": code}
        )
        account = await client.get("/account/")
        await sign_out(client)
        again_page = await password_step(client, EMAIL)
        again = await post_form(
            client, again_page, "/account/sign-in/code", {"challenge_token": challenge_of(again_page), "code": code}
        )

    assert first.status_code == 303
    assert 'Recovery codes left: <strong class="uk-recovery-left">9</strong>' in account.text
    assert again.status_code == 400
    assert 'data-code="MFA_INVALID_CODE"' in again.text


async def test_a_stale_sign_in_confirms_before_a_password_change(http_db: SessionMaker, clock: Clock) -> None:
    """A one-factor session of a user with a factor goes through "confirm it's you", then changes the password."""
    test_app = mfa_pages_app(http_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)  # level 1: the factor comes after this sign-in
        enrolled = await enrol_on_pages(client, clock)
        sessions_before = (await client.get("/account/")).text.count('class="uk-session"')
        change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        sent_away = await submit(client, "/account/", "/account/password", change)
        confirm_page = await client.get(sent_away.headers["location"])
        wrong = await post_form(client, confirm_page, "/account/confirm", {"password": PASSWORD, "code": "000000"})
        clock.advance(30)
        confirmed = await post_form(
            client,
            confirm_page,
            "/account/confirm",
            {"password": PASSWORD, "code": code_at(enrolled.secret, clock.now), "next": "/account/"},
        )
        back = await client.get(confirmed.headers["location"])
        sessions_after = back.text.count('class="uk-session"')
        changed = await submit(client, "/account/", "/account/password", change)

    assert sent_away.status_code == 303
    assert sent_away.headers["location"].startswith("/account/confirm?next=")
    assert "Confirm it's you" in confirm_page.text
    assert 'autocomplete="one-time-code"' in confirm_page.text
    assert wrong.status_code == 400
    assert 'data-code="MFA_INVALID_CODE"' in wrong.text
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/account/?notice=confirmed"
    assert sessions_before == sessions_after == 1  # the same session, renewed: no new one
    assert "this device" in back.text
    assert [cookie.split("=")[0] for cookie in confirmed.headers.get_list("set-cookie")] == ["fastapiusersauth"]
    assert "You can make the change now" in back.text
    assert changed.status_code == 303
    assert changed.headers["location"] == "/account/?notice=password-changed"


async def test_confirm_refuses_a_wrong_password_or_a_missing_code(sqlite_db: SessionMaker, clock: Clock) -> None:
    """A wrong password or no code on the confirm page is named, and nothing is renewed."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await enrol_on_pages(client, clock)
        refused = await submit(client, "/account/confirm", "/account/confirm", {"password": "wrong", "code": "123456"})
        no_code = await submit(client, "/account/confirm", "/account/confirm", {"password": PASSWORD})
        still_stale = await submit(
            client, "/account/", "/account/email", {"email": "new@example.com", "current_password": PASSWORD}
        )

    assert refused.status_code == 400
    assert 'data-code="REAUTHENTICATE_BAD_CREDENTIALS"' in refused.text
    assert no_code.status_code == 400
    assert 'data-code="REAUTHENTICATE_CODE_REQUIRED"' in no_code.text
    assert still_stale.status_code == 303
    assert still_stale.headers["location"].startswith("/account/confirm?next=")


async def test_a_user_without_a_factor_changes_the_password_as_before(sqlite_db: SessionMaker, clock: Clock) -> None:
    """Without a factor, no confirmation is asked: the current password is enough, as before."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        changed = await submit(
            client, "/account/", "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        confirm_page = await client.get("/account/confirm")

    assert changed.headers["location"] == "/account/?notice=password-changed"
    assert "Enter your password, then make the change again" in confirm_page.text
    assert 'name="code"' not in confirm_page.text


async def test_regenerate_and_disable_after_a_fresh_sign_in(http_db: SessionMaker, clock: Clock) -> None:
    """After a two-factor sign-in, new codes replace the old ones; turning it off makes the password enough."""
    test_app = mfa_pages_app(http_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        enrolled = await enrol_on_pages(client, clock)
        await sign_out(client)
        second = await password_step(client, EMAIL)
        clock.advance(30)
        await post_form(
            client,
            second,
            "/account/sign-in/code",
            {"challenge_token": challenge_of(second), "code": code_at(enrolled.secret, clock.now)},
        )
        regenerated = await submit(client, "/account/two-factor", "/account/two-factor/recovery-codes", {})
        enrol_again = await submit(client, "/account/two-factor", "/account/two-factor/totp", {})
        disabled = await submit(client, "/account/two-factor", "/account/two-factor/disable", {})
        state = await client.get(disabled.headers["location"])
        disabled_again = await submit(client, "/account/two-factor", "/account/two-factor/disable", {})
        await sign_out(client)
        one_step = await password_step(client, EMAIL)

    new_codes = codes_of(regenerated)
    assert regenerated.status_code == 200
    assert len(new_codes) == 10
    assert not set(new_codes) & set(enrolled.recovery_codes)
    assert "Your old codes no longer work" in regenerated.text
    assert enrol_again.status_code == 400
    assert 'data-code="MFA_ALREADY_ENABLED"' in enrol_again.text
    assert disabled.status_code == 303
    assert "Two-factor sign-in is off" in state.text
    assert "Set up an authenticator app" in state.text
    assert disabled_again.status_code == 400
    assert 'data-code="MFA_NOT_ENABLED"' in disabled_again.text
    assert one_step.status_code == 303


async def test_stale_sessions_confirm_before_managing_the_factor(sqlite_db: SessionMaker, clock: Clock) -> None:
    """New codes and turning the factor off send a one-factor session to the confirm page, back to /two-factor."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await enrol_on_pages(client, clock)
        codes = await submit(client, "/account/two-factor", "/account/two-factor/recovery-codes", {})
        off = await submit(client, "/account/two-factor", "/account/two-factor/disable", {})
        again = await submit(client, "/account/two-factor", "/account/two-factor/totp", {})

    for answer in (codes, off, again):
        assert answer.status_code == 303
        assert answer.headers["location"] == "/account/confirm?next=%2Faccount%2Ftwo-factor"


async def test_a_wrong_confirming_code_keeps_the_key_hidden(sqlite_db: SessionMaker, clock: Clock) -> None:
    """A wrong first code asks again without showing the key; the right one then turns the factor on."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        begun = await submit(client, "/account/two-factor", "/account/two-factor/totp", {})
        secret = secret_of(begun)
        wrong = await post_form(client, begun, "/account/two-factor/totp/confirm", {"code": "000000"})
        right = await post_form(client, wrong, "/account/two-factor/totp/confirm", {"code": code_at(secret, clock.now)})
        twice = await post_form(client, wrong, "/account/two-factor/totp/confirm", {"code": code_at(secret, clock.now)})

    assert wrong.status_code == 400
    assert 'data-code="MFA_INVALID_CODE"' in wrong.text
    assert 'id="uk-totp-secret"' not in wrong.text
    assert "Start again with a new key" in wrong.text
    assert right.status_code == 200
    assert len(codes_of(right)) == 10
    assert twice.status_code == 400
    assert 'data-code="MFA_ALREADY_ENABLED"' in twice.text


async def test_bad_input_is_a_page_not_an_error(sqlite_db: SessionMaker, clock: Clock) -> None:
    """A missing or oversized challenge or code answers 400 pages; signed-out visitors are sent to sign in."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        page = await client.get("/account/sign-in")
        no_token = await post_form(client, page, "/account/sign-in/code", {"code": "123456"})
        huge = await post_form(
            client, page, "/account/sign-in/code", {"challenge_token": "x" * 5000, "code": "1" * 5000}
        )
        unknown = await post_form(
            client, page, "/account/sign-in/code", {"challenge_token": "y" * 43, "code": "1" * 500}
        )
        forged = await client.post("/account/sign-in/code", data={"challenge_token": "y", "code": "1"})
        two_factor = await client.get("/account/two-factor")
        confirm = await client.get("/account/confirm")
        account = await client.get("/account/")

    assert account.status_code == 303
    for answer in (no_token, huge, unknown):
        assert answer.status_code == 400
        assert 'data-code="MFA_CHALLENGE_INVALID"' in answer.text
    assert forged.status_code == 403
    assert two_factor.status_code == 303
    assert two_factor.headers["location"].startswith("/account/sign-in")
    assert confirm.status_code == 303


async def test_forged_two_factor_forms_are_refused(sqlite_db: SessionMaker, clock: Clock) -> None:
    """Every two-factor form without its token answers 403 and changes nothing."""
    test_app = mfa_pages_app(sqlite_db, clock)
    actions = [
        "/account/two-factor/totp",
        "/account/two-factor/totp/confirm",
        "/account/two-factor/recovery-codes",
        "/account/two-factor/disable",
        "/account/confirm",
    ]

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        answers = [await client.post(action, data={"code": "123456"}) for action in actions]
        state = await client.get("/account/two-factor")

    assert [answer.status_code for answer in answers] == [403] * len(actions)
    assert "Set up an authenticator app" in state.text


async def test_new_codes_without_a_factor_are_refused(sqlite_db: SessionMaker, clock: Clock) -> None:
    """A user without a factor asking for new recovery codes gets the two-factor page with MFA_NOT_ENABLED."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        refused = await submit(client, "/account/two-factor", "/account/two-factor/recovery-codes", {})

    assert refused.status_code == 400
    assert 'data-code="MFA_NOT_ENABLED"' in refused.text


async def test_wrong_codes_are_throttled_like_failed_sign_ins(sqlite_db: SessionMaker, clock: Clock) -> None:
    """Wrong second-step codes count as failed logins: past the limit the page answers 429."""
    security = SecuritySettings(rate_limit=RateLimitSettings(login_ip=Limit(2, 60), login_account=None))
    test_app = mfa_pages_app(sqlite_db, clock, security=security)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await enrol_on_pages(client, clock)
        await sign_out(client)
        page = await password_step(client, EMAIL)
        token = challenge_of(page)
        answers = [
            await post_form(client, page, "/account/sign-in/code", {"challenge_token": token, "code": "000000"})
            for _ in range(3)
        ]

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert "Too many attempts" in answers[2].text


async def test_wrong_passwords_on_confirm_are_throttled(sqlite_db: SessionMaker, clock: Clock) -> None:
    """Wrong passwords on "confirm it's you" count as failed logins: past the limit it answers 429."""
    security = SecuritySettings(rate_limit=RateLimitSettings(login_ip=Limit(2, 60), login_account=None))
    test_app = mfa_pages_app(sqlite_db, clock, security=security)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await enrol_on_pages(client, clock)
        wrong = {"password": "not it", "code": "000000"}
        answers = [await submit(client, "/account/confirm", "/account/confirm", wrong) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [400, 400, 429]


def test_other_codes_keep_the_pages_sentences() -> None:
    """An error outside the two-factor codes is worded as the other pages word it."""
    error = mfa_error(HTTPException(status_code=400, detail="LOGIN_BAD_CREDENTIALS"), "code")

    assert error.code == "LOGIN_BAD_CREDENTIALS"
    assert error.message == "The e-mail address or the password is not correct."
    assert error.field == "code"


async def test_a_password_reset_does_not_skip_the_second_step(sqlite_db: SessionMaker, clock: Clock) -> None:
    """After a reset through the pages, the new password still leads to the code page (T38)."""
    test_app = mfa_pages_app(sqlite_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await enrol_on_pages(client, clock)
        await sign_out(client)
        await submit(client, "/account/forgot-password", "/account/forgot-password", {"email": EMAIL})
        token = test_app.hooks.last("on_after_forgot_password")["token"]
        reset = await submit(
            client,
            f"/account/reset-password?token={token}",
            "/account/reset-password",
            {"token": token, "password": NEW_PASSWORD},
        )
        second = await password_step(client, EMAIL, NEW_PASSWORD)

    assert reset.status_code == 303
    assert second.status_code == 200
    assert "Enter your code" in second.text
    assert not signed_in(client)


async def test_each_change_of_the_factor_is_mailed(sqlite_db: SessionMaker, clock: Clock) -> None:
    """Turning the factor on, new codes and turning it off on the pages each e-mail the user (T43)."""
    test_app = mfa_pages_app(sqlite_db, clock)
    outbox = OutboxMailer()
    manager_class = make_user_manager_class(HookLog())

    async def get_manager() -> AsyncIterator[BaseUserManager[User, uuid.UUID]]:
        async with sqlite_db() as session:
            user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
            mailer = AccountMailer(outbox, sender="no-reply@example.com", app_name="Example")
            yield manager_class(user_db, fast_password_helper(), mailer=mailer)

    test_app.app.dependency_overrides[test_app.fastapi_users.get_user_manager] = get_manager
    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        enrolled = await enrol_on_pages(client, clock)
        confirm_page = await client.get("/account/confirm")
        clock.advance(30)
        await post_form(
            client,
            confirm_page,
            "/account/confirm",
            {"password": PASSWORD, "code": code_at(enrolled.secret, clock.now)},
        )
        await submit(client, "/account/two-factor", "/account/two-factor/recovery-codes", {})
        await submit(client, "/account/two-factor", "/account/two-factor/disable", {})

    notices = [message for message in outbox.messages if "Two-factor" in str(message["Subject"])]
    bodies = [str(message.get_body(("plain",)).get_content()) for message in notices]  # type: ignore[union-attr]
    assert [message["To"] for message in notices] == [EMAIL] * 3
    assert "turned on" in bodies[0]
    assert "new recovery codes" in bodies[1]
    assert "turned off" in bodies[2]
