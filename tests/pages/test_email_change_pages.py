"""The confirmed e-mail change on the account pages (issue 20, T40), over HTTP on SQLite and PostgreSQL.

The account page's form only asks for the change (current password first); the new address
confirms through its link's page, the old one can revert through its own; both pages change
nothing on GET (T35); a revert ends every session and says so; bad links are plain-words pages.
"""

from __future__ import annotations

import httpx

from fastapi_userkit.email_auth import EMAIL_CHANGE_CONFIRM_PATH, EMAIL_CHANGE_REVERT_PATH, EMAIL_SIGN_IN_PATH
from fastapi_userkit.security import LoginThrottle, RateLimitSettings, SecuritySettings
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock as MFAClock
from tests.mfa.http_support import sql_mfa
from tests.pages.email_support import EmailPagesApp, email_pages_app, hidden_token, link_path
from tests.pages.mfa_support import enrol_on_pages, post_form, signed_in
from tests.pages.support import PASSWORD, client_for, pages_app, sign_up_and_in, submit


async def ask(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Send the account page's e-mail form."""
    return await submit(client, "/account/", "/account/email", {"email": email, "current_password": password})


async def follow(client: httpx.AsyncClient, app: EmailPagesApp, to: str, path: str) -> httpx.Response:
    """Open the link to ``path`` in the latest e-mail to ``to``, then press the page's button."""
    page = await client.get(link_path(app.last(to), path))
    assert page.status_code == 200, page.text
    return await post_form(client, page, f"/account{path}", {"token": hidden_token(page)})


async def test_the_form_asks_and_the_page_shows_the_pending_change(http_db: SessionMaker) -> None:
    """The address stays until confirmed; the page says what waits; the new and the old address get their e-mails."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "old@camelot.bt")
        before = await client.get("/account/")
        asked = await ask(client, "new@camelot.bt")
        after = await client.get(asked.headers["location"])

    assert "your address changes when you follow it" in before.text
    assert "Waiting for confirmation" not in before.text
    assert asked.status_code == 303
    assert asked.headers["location"] == "/account/?notice=email-change-pending"
    assert "We sent a link to your new address" in after.text
    assert 'Waiting for confirmation of <strong class="uk-pending-email">new@camelot.bt</strong>' in after.text
    assert "Signed in as <strong>old@camelot.bt</strong>" in after.text
    assert link_path(app.last("new@camelot.bt"), EMAIL_CHANGE_CONFIRM_PATH)
    assert link_path(app.last("old@camelot.bt"), EMAIL_CHANGE_REVERT_PATH)


async def test_refused_requests_are_form_errors(http_db: SessionMaker) -> None:
    """A wrong password, a malformed address or the current one: 400 on the form, no e-mail, the pending change kept."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "keep@camelot.bt")
        await ask(client, "pending@camelot.bt")
        sent = len(app.outbox.messages)
        wrong = await ask(client, "other@camelot.bt", "not my password")
        malformed = await ask(client, "not an address")
        same = await ask(client, "keep@camelot.bt")

    assert [answer.status_code for answer in (wrong, malformed, same)] == [400, 400, 400]
    assert 'data-code="CURRENT_PASSWORD_WRONG"' in wrong.text
    assert 'data-code="INVALID_EMAIL"' in malformed.text
    assert 'data-code="EMAIL_CHANGE_SAME_ADDRESS"' in same.text
    assert "This is already your e-mail address." in same.text
    assert all("pending@camelot.bt" in answer.text for answer in (wrong, malformed, same))
    assert len(app.outbox.messages) == sent


async def test_wrong_current_passwords_are_throttled(http_db: SessionMaker) -> None:
    """Wrong current passwords count as failed logins: once the account waits, the form answers 429."""
    throttle = LoginThrottle(free_failures=1, first_delay_seconds=30, max_delay_seconds=60, lockout_failures=5)
    app = email_pages_app(
        http_db, app_options={"security": SecuritySettings(rate_limit=RateLimitSettings(login_account=throttle))}
    )

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "slow@camelot.bt")
        answers = [await ask(client, "new@camelot.bt", "nope nope") for _ in range(2)]

    assert [answer.status_code for answer in answers] == [400, 429]
    assert "Too many attempts" in answers[1].text


async def test_the_confirmation_page_changes_nothing_until_its_button(http_db: SessionMaker) -> None:
    """GET (a mail scanner) leaves the address; the button changes it once; the new address then signs in."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "before@camelot.bt")
        await ask(client, "after@camelot.bt")
        path = link_path(app.last("after@camelot.bt"), EMAIL_CHANGE_CONFIRM_PATH)
        page = await client.get(path)
        unchanged = await client.get("/account/")
        confirmed = await post_form(client, page, "/account/email/confirm", {"token": hidden_token(page)})
        changed = await client.get("/account/")
        again_page = await client.get(path)
        again = await post_form(client, again_page, "/account/email/confirm", {"token": hidden_token(again_page)})
    async with client_for(app.test_app) as fresh:
        signed = await submit(
            fresh, "/account/sign-in", "/account/sign-in", {"email": "after@camelot.bt", "password": PASSWORD}
        )

    assert "Confirm my new address" in page.text
    assert "Signed in as <strong>before@camelot.bt</strong>" in unchanged.text
    assert confirmed.status_code == 200
    assert "Your e-mail address is now <strong>after@camelot.bt</strong>" in confirmed.text
    assert "Signed in as <strong>after@camelot.bt</strong>" in changed.text
    assert "Waiting for confirmation" not in changed.text
    assert again.status_code == 400
    assert 'data-code="EMAIL_LINK_USED"' in again.text
    assert signed.status_code == 303


async def test_the_revert_restores_the_address_and_ends_every_session(http_db: SessionMaker) -> None:
    """ "This was not me" after a confirmed change: the old address is back, every session ended, this browser's too."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as thief, client_for(app.test_app) as owner:
        await sign_up_and_in(thief, "victim@camelot.bt")
        await ask(thief, "thief@camelot.bt")
        await follow(thief, app, "thief@camelot.bt", EMAIL_CHANGE_CONFIRM_PATH)
        await submit(owner, "/account/sign-in", "/account/sign-in", {"email": "thief@camelot.bt", "password": PASSWORD})
        owner_before = signed_in(owner)
        page = await owner.get(link_path(app.last("victim@camelot.bt"), EMAIL_CHANGE_REVERT_PATH))
        reverted = await post_form(owner, page, "/account/email/revert", {"token": hidden_token(page)})
        thief_after = await thief.get("/account/")
        owner_after = await owner.get("/account/")
    async with client_for(app.test_app) as fresh:
        signed = await submit(
            fresh, "/account/sign-in", "/account/sign-in", {"email": "victim@camelot.bt", "password": PASSWORD}
        )

    assert "This was not me: undo the change" in page.text
    assert owner_before
    assert reverted.status_code == 200
    assert "your account's e-mail address is <strong>victim@camelot.bt</strong>" in reverted.text
    assert "Every session of your account was signed out" in reverted.text
    assert 'Set a new password with "forgot password": the link goes to victim@camelot.bt' in reverted.text
    assert not signed_in(owner)  # this browser's cookie is cleared
    assert thief_after.status_code == owner_after.status_code == 303
    assert thief_after.headers["location"].startswith("/account/sign-in")
    assert signed.status_code == 400  # the password the thief knew no longer works


async def test_a_revert_of_a_pending_change_cancels_it_and_a_second_use_is_refused(http_db: SessionMaker) -> None:
    """Reverting before the confirmation keeps the address, kills the confirmation link, and works once."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "early@camelot.bt")
        await ask(client, "never@camelot.bt")
        revert_path = link_path(app.last("early@camelot.bt"), EMAIL_CHANGE_REVERT_PATH)
        client.cookies.clear()  # opened from the mailbox, signed out
        page = await client.get(revert_path)
        reverted = await post_form(client, page, "/account/email/revert", {"token": hidden_token(page)})
        again_page = await client.get(revert_path)
        again = await post_form(client, again_page, "/account/email/revert", {"token": hidden_token(again_page)})
        confirm = await follow(client, app, "never@camelot.bt", EMAIL_CHANGE_CONFIRM_PATH)

    assert reverted.status_code == 200
    assert "<strong>early@camelot.bt</strong>" in reverted.text
    assert again.status_code == confirm.status_code == 400
    assert 'data-code="EMAIL_LINK_USED"' in again.text
    assert 'data-code="EMAIL_LINK_USED"' in confirm.text


async def test_a_revert_whose_address_was_taken_meanwhile_says_so(http_db: SessionMaker) -> None:
    """If another account took the old address since, the page says the address could not come back."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client, client_for(app.test_app) as other:
        await sign_up_and_in(client, "first@camelot.bt")
        await ask(client, "second@camelot.bt")
        await follow(client, app, "second@camelot.bt", EMAIL_CHANGE_CONFIRM_PATH)
        await sign_up_and_in(other, "first@camelot.bt")
        reverted = await follow(other, app, "first@camelot.bt", EMAIL_CHANGE_REVERT_PATH)

    assert reverted.status_code == 200
    assert "another account now uses your old address" in reverted.text


async def test_cancel_and_resend(http_db: SessionMaker) -> None:
    """Resend mails a new link (the old one dies); cancel drops the change; with nothing pending both say so."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "mind@camelot.bt")
        await ask(client, "changed@camelot.bt")
        first = app.last("changed@camelot.bt")
        resent = await submit(client, "/account/", "/account/email/resend", {})
        second = app.last("changed@camelot.bt")
        cancelled = await submit(client, "/account/", "/account/email/cancel", {})
        page = await client.get(cancelled.headers["location"])
        nothing = await submit(client, "/account/", "/account/email/resend", {})
        first_link = await client.get(link_path(first, EMAIL_CHANGE_CONFIRM_PATH))
        old = await post_form(client, first_link, "/account/email/confirm", {"token": hidden_token(first_link)})
        second_link = await client.get(link_path(second, EMAIL_CHANGE_CONFIRM_PATH))
        new = await post_form(client, second_link, "/account/email/confirm", {"token": hidden_token(second_link)})

    assert resent.headers["location"] == "/account/?notice=email-change-resent"
    assert first.links != second.links
    assert cancelled.headers["location"] == "/account/?notice=email-change-cancelled"
    assert "The e-mail change is cancelled" in page.text
    assert "Waiting for confirmation" not in page.text
    assert nothing.headers["location"] == "/account/?notice=email-change-none"
    assert old.status_code == new.status_code == 400
    assert 'data-code="EMAIL_LINK_USED"' in new.text


async def test_a_taken_address_is_asked_like_a_free_one_and_refused_at_the_link(http_db: SessionMaker) -> None:
    """The requester learns nothing; whoever holds the link to the taken address gets a plain refusal."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client, client_for(app.test_app) as other:
        await sign_up_and_in(other, "taken@camelot.bt")
        await sign_up_and_in(client, "mine@camelot.bt")
        asked = await ask(client, "taken@camelot.bt")
        confirmed = await follow(client, app, "taken@camelot.bt", EMAIL_CHANGE_CONFIRM_PATH)

    assert asked.status_code == 303
    assert asked.headers["location"] == "/account/?notice=email-change-pending"
    assert confirmed.status_code == 400
    assert 'data-code="EMAIL_ADDRESS_TAKEN"' in confirmed.text


async def test_an_expired_confirmation_is_refused(http_db: SessionMaker) -> None:
    """Past ``confirm_lifetime`` (an injected clock) the confirmation page answers "expired"."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "slowpoke@camelot.bt")
        await ask(client, "later@camelot.bt")
        app.clock.advance(hours=2)
        confirmed = await follow(client, app, "later@camelot.bt", EMAIL_CHANGE_CONFIRM_PATH)

    assert confirmed.status_code == 400
    assert 'data-code="EMAIL_LINK_EXPIRED"' in confirmed.text


async def test_bad_links_are_page_errors(http_db: SessionMaker) -> None:
    """Unknown, over-long and missing tokens on both pages: 400 with a plain message; no token: the page says so."""
    app = email_pages_app(http_db)
    answers = []

    async with client_for(app.test_app) as client:
        for path in ("/account/email/confirm", "/account/email/revert"):
            empty = await client.get(path)
            assert "This page needs the link" in empty.text
            page = await client.get(f"{path}?token=nonsense")
            answers.extend(
                [
                    await post_form(client, page, path, data)
                    for data in ({"token": "nonsense"}, {"token": "y" * 300}, {})
                ]
            )

    assert [answer.status_code for answer in answers] == [400] * 6
    assert all('data-code="EMAIL_LINK_INVALID"' in answer.text for answer in answers)
    assert all("This link is not valid" in answer.text for answer in answers)


async def test_every_form_checks_csrf_and_the_pending_forms_need_a_sign_in(http_db: SessionMaker) -> None:
    """No token: 403 on the four forms; signed out, cancel and resend lead to the sign-in page."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "forms@camelot.bt")
        refused = [
            await client.post(f"/account/email/{action}", data={"token": "x"}, headers={"origin": "http://test"})
            for action in ("confirm", "revert", "cancel", "resend")
        ]
    async with client_for(app.test_app) as signed_out:
        pages = [
            await submit(signed_out, "/account/sign-in", f"/account/email/{action}", {})
            for action in ("cancel", "resend")
        ]

    assert [answer.status_code for answer in refused] == [403] * 4
    assert [answer.status_code for answer in pages] == [303, 303]
    assert all(answer.headers["location"] == "/account/sign-in" for answer in pages)


async def test_a_user_with_a_stale_second_factor_confirms_it_first(http_db: SessionMaker) -> None:
    """A one-factor session of a user with a factor goes through "confirm it's you" before asking (T43)."""
    clock = MFAClock()
    app = email_pages_app(http_db, app_options={"mfa": sql_mfa(http_db, clock)})

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "stale@camelot.bt")
        await enrol_on_pages(client, clock)
        asked = await ask(client, "fresh@camelot.bt")

    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/account/confirm")
    assert all(message.to != "fresh@camelot.bt" for message in app.outbox.messages)


async def test_without_the_change_service_the_address_changes_at_once(http_db: SessionMaker) -> None:
    """An app that did not configure the confirmed change keeps the account page's immediate change."""
    async with client_for(pages_app(http_db)) as client:
        await sign_up_and_in(client, "direct@camelot.bt")
        asked = await ask(client, "moved@camelot.bt")
        page = await client.get("/account/")

    assert asked.headers["location"] == "/account/?notice=email-changed"
    assert "Signed in as <strong>moved@camelot.bt</strong>" in page.text


async def test_a_revert_with_the_api_csrf_check_off_clears_the_browser_too(http_db: SessionMaker) -> None:
    """``SecuritySettings(csrf=None)``: the revert still ends the sessions and clears this browser's cookie."""
    app = email_pages_app(http_db, app_options={"security": SecuritySettings(csrf=None)})

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "plain@camelot.bt")
        await ask(client, "elsewhere@camelot.bt")
        reverted = await follow(client, app, "plain@camelot.bt", EMAIL_CHANGE_REVERT_PATH)

    assert reverted.status_code == 200
    assert not signed_in(client)


async def passwordless(client: httpx.AsyncClient, app: EmailPagesApp, email: str) -> None:
    """An account whose first sign-in by e-mail dropped the password it was registered with (signed in)."""
    await sign_up_and_in(client, email)
    await submit(client, "/account/sign-out", "/account/sign-out", {})
    await submit(client, "/account/email-login", "/account/email-login", {"email": email})
    await follow(client, app, email, EMAIL_SIGN_IN_PATH)


async def test_a_user_without_a_password_asks_with_a_recent_sign_in(http_db: SessionMaker) -> None:
    """No password to type: the form has no password field and a fresh sign-in lets the change wait for confirmation."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await passwordless(client, app, "nopass@camelot.bt")
        page = await client.get("/account/")
        asked = await submit(client, "/account/", "/account/email", {"email": "nopass2@camelot.bt"})

    assert "Signed in as <strong>nopass@camelot.bt</strong>" in page.text
    assert 'id="uk-email-current-password"' not in page.text
    assert asked.headers["location"] == "/account/?notice=email-change-pending"


async def test_a_user_without_a_password_and_an_old_sign_in_signs_in_again_first(http_db: SessionMaker) -> None:
    """Past ``email_change_fresh_within`` a user without a password is told to sign in again; nothing is sent."""
    app = email_pages_app(http_db, email_change_fresh_within=0)

    async with client_for(app.test_app) as client:
        await passwordless(client, app, "stale@camelot.bt")
        sent = len(app.outbox.messages)
        asked = await submit(client, "/account/", "/account/email", {"email": "stale2@camelot.bt"})

    assert asked.status_code == 403
    assert 'data-code="SIGN_IN_AGAIN"' in asked.text
    assert "sign in again" in asked.text
    assert len(app.outbox.messages) == sent
