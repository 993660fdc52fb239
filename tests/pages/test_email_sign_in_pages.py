"""Sign-in by e-mail on the pages (issue 20), over HTTP on SQLite and PostgreSQL.

The request form answers every address alike; the link's page changes nothing on GET (T35) and
signs in on POST; the code form signs in too; one use of either ends both; a user with a second
factor still gets the second step; bad, used and expired links are plain-words pages, never a 500.
"""

from __future__ import annotations

import re

import httpx
from fastapi import HTTPException

from fastapi_userkit.email_auth import EMAIL_SIGN_IN_PATH
from fastapi_userkit.pages._email_sign_in import email_error
from fastapi_userkit.security import FlowLimits, Limit, RateLimitSettings, SecuritySettings
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock as MFAClock
from tests.mfa.conftest import code_at
from tests.mfa.http_support import sql_mfa
from tests.pages.email_support import code_in, email_pages_app, hidden_token, link_path
from tests.pages.mfa_support import challenge_of, enrol_on_pages, post_form, sign_out, signed_in
from tests.pages.support import client_for, form_token, pages_app, sign_up_and_in, submit

_TOKEN_FIELD = re.compile(r'name="csrf_token" value="[^"]*"')


async def request_link(client: httpx.AsyncClient, email: str, **extra: str) -> httpx.Response:
    """Ask for a sign-in e-mail through the pages."""
    return await submit(client, "/account/email-login", "/account/email-login", {"email": email, **extra})


async def sign_up(client: httpx.AsyncClient, email: str) -> None:
    """Create an account through the pages and leave it signed out."""
    await sign_up_and_in(client, email)
    await sign_out(client)


async def test_the_sign_in_page_offers_a_link_only_when_configured(http_db: SessionMaker) -> None:
    """With e-mail sign-in on, the sign-in page links to the request form (keeping ``next``); without, it does not."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        page = await client.get("/account/sign-in?next=/somewhere")
        form = await client.get("/account/email-login?next=/somewhere&email=a@camelot.bt")
    async with client_for(pages_app(http_db)) as client:
        plain = await client.get("/account/sign-in")

    assert 'href="/account/email-login?next=/somewhere"' in page.text
    assert "E-mail me a sign-in link" in page.text
    assert form.status_code == 200
    assert 'value="/somewhere"' in form.text
    assert 'value="a@camelot.bt"' in form.text
    assert "email-login" not in plain.text


async def test_known_and_unknown_addresses_get_the_same_page(http_db: SessionMaker) -> None:
    """Both addresses get the same "check your inbox" page; only the account's owner gets an e-mail."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up(client, "known@camelot.bt")
        known = await request_link(client, "known@camelot.bt")
        unknown = await request_link(client, "unknown@camelot.bt")

    assert known.status_code == unknown.status_code == 200
    same = _TOKEN_FIELD.sub("", known.text.replace("known@", "someone@"))
    assert same == _TOKEN_FIELD.sub("", unknown.text.replace("unknown@", "someone@"))
    assert "Check your inbox" in known.text
    assert [message.to for message in app.outbox.messages if "sign" in message.subject.lower()] == ["known@camelot.bt"]


async def test_the_link_page_changes_nothing_and_its_button_signs_in(http_db: SessionMaker) -> None:
    """GET shows a button and spends nothing (T35); the POST signs in with a session; a second use is refused."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up(client, "link@camelot.bt")
        await request_link(client, "link@camelot.bt")
        path = link_path(app.last("link@camelot.bt"), EMAIL_SIGN_IN_PATH)
        opened = await client.get(path)
        opened_again = await client.get(path)  # a mail scanner and the user: both only see the page
        used = await post_form(client, opened_again, "/account/email-login/verify", {"token": hidden_token(opened)})
        account = await client.get(used.headers["location"])
        reopened = await client.get(path)
        again = await post_form(client, reopened, "/account/email-login/verify", {"token": hidden_token(reopened)})

    assert opened.status_code == 200
    assert '<button type="submit" class="uk-button">Sign in</button>' in opened.text
    assert used.status_code == 303
    # The first e-mail sign-in of the never-verified account dropped the password it was created with.
    assert used.headers["location"] == "/account/?notice=password-cleared"
    assert account.status_code == 200
    assert "link@camelot.bt" in account.text
    assert "The password this account was created with no longer works" in account.text
    assert again.status_code == 400
    assert 'data-code="EMAIL_LINK_USED"' in again.text
    assert "already used" in again.text


async def test_the_code_signs_in_once_and_ends_the_link(http_db: SessionMaker) -> None:
    """A wrong code asks again; the right one signs in (to ``next``); the link is dead after it."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up(client, "code@camelot.bt")
        sent = await request_link(client, "code@camelot.bt", next="/account/?tab=1")
        message = app.last("code@camelot.bt")
        wrong = await post_form(
            client, sent, "/account/email-login/code", {"email": "code@camelot.bt", "code": "00000000", "next": "/x"}
        )
        right = await post_form(
            client, wrong, "/account/email-login/code", {"email": "code@camelot.bt", "code": code_in(message)}
        )
        session = signed_in(client)
        link_page = await client.get(link_path(message, EMAIL_SIGN_IN_PATH))
        link = await post_form(client, link_page, "/account/email-login/verify", {"token": hidden_token(link_page)})

    assert 'name="next" value="/account/?tab=1"' in sent.text
    assert wrong.status_code == 400
    assert 'data-code="EMAIL_CODE_INVALID"' in wrong.text
    assert 'value="code@camelot.bt"' in wrong.text  # the same form, for another try
    assert right.status_code == 303
    assert session
    assert link.status_code == 400
    assert 'data-code="EMAIL_LINK_USED"' in link.text


async def test_wrong_codes_run_out_and_ask_for_a_new_e_mail(http_db: SessionMaker) -> None:
    """After the last allowed wrong code, even the right code is refused and the page offers a new e-mail."""
    # No rate limit here: the e-mail's own cap is under test (the login throttle would answer first).
    app = email_pages_app(http_db, app_options={"security": SecuritySettings(rate_limit=None)})
    form = {"email": "tries@camelot.bt", "code": "zzzzzz"}

    async with client_for(app.test_app) as client:
        await sign_up(client, "tries@camelot.bt")
        sent = await request_link(client, "tries@camelot.bt")
        code = code_in(app.last("tries@camelot.bt"))
        answers = [await post_form(client, sent, "/account/email-login/code", form) for _ in range(5)]
        last = await post_form(client, sent, "/account/email-login/code", {**form, "code": code})

    assert [answer.status_code for answer in answers] == [400] * 5
    assert last.status_code == 400
    assert 'data-code="EMAIL_CODE_ATTEMPTS_EXHAUSTED"' in last.text
    assert "Too many wrong codes" in last.text
    assert 'action="/account/email-login"' in last.text
    assert not signed_in(client)


async def test_an_expired_link_and_code_are_refused_in_plain_words(http_db: SessionMaker) -> None:
    """Past the lifetime (an injected clock) the link and the code answer "expired"."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up(client, "late@camelot.bt")
        sent = await request_link(client, "late@camelot.bt")
        message = app.last("late@camelot.bt")
        app.clock.advance(minutes=11)
        page = await client.get(link_path(message, EMAIL_SIGN_IN_PATH))
        link = await post_form(client, page, "/account/email-login/verify", {"token": hidden_token(page)})
        code = await post_form(
            client, sent, "/account/email-login/code", {"email": "late@camelot.bt", "code": code_in(message)}
        )

    assert link.status_code == code.status_code == 400
    assert 'data-code="EMAIL_LINK_EXPIRED"' in link.text
    assert "has expired" in code.text
    assert not signed_in(client)


async def test_bad_tokens_and_forms_are_page_errors(http_db: SessionMaker) -> None:
    """An unknown, over-long or missing token, a bad address or code field: 400 pages, never a 500."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        empty = await client.get("/account/email-login/verify")
        page = await client.get("/account/email-login/verify?token=nonsense")
        unknown = await post_form(client, page, "/account/email-login/verify", {"token": "nonsense"})
        long = await post_form(client, page, "/account/email-login/verify", {"token": "x" * 300})
        missing = await post_form(client, page, "/account/email-login/verify", {})
        bad_email = await request_link(client, "not an address")
        bad_code_form = await post_form(client, page, "/account/email-login/code", {"email": "nope", "code": "1"})
        no_sign_in = await post_form(
            client, page, "/account/email-login/code", {"email": "ghost@camelot.bt", "code": "123456" * 10}
        )

    assert "needs the link" in empty.text
    assert [answer.status_code for answer in (unknown, long, missing)] == [400, 400, 400]
    assert all('data-code="EMAIL_LINK_INVALID"' in answer.text for answer in (unknown, long, missing))
    assert bad_email.status_code == bad_code_form.status_code == 400
    assert 'data-code="INVALID_EMAIL"' in bad_email.text
    assert 'data-code="INVALID_EMAIL"' in bad_code_form.text
    assert no_sign_in.status_code == 400
    assert 'data-code="EMAIL_CODE_INVALID"' in no_sign_in.text


async def test_every_e_mail_sign_in_form_checks_csrf(http_db: SessionMaker) -> None:
    """No token, or another site's form: 403, and the link still works afterwards."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up(client, "csrf@camelot.bt")
        sent = await request_link(client, "csrf@camelot.bt")
        page = await client.get(link_path(app.last("csrf@camelot.bt"), EMAIL_SIGN_IN_PATH))
        token = hidden_token(page)
        refused = [
            await client.post(action, data=data, headers={"origin": "http://test"})
            for action, data in [
                ("/account/email-login", {"email": "csrf@camelot.bt"}),
                ("/account/email-login/code", {"email": "csrf@camelot.bt", "code": "123456"}),
                ("/account/email-login/verify", {"token": token}),
            ]
        ]
        cross_site = await client.post(
            "/account/email-login/verify",
            data={"csrf_token": form_token(page), "token": token},
            headers={"origin": "http://evil.example"},
        )
        used = await post_form(client, sent, "/account/email-login/verify", {"token": token})

    assert [answer.status_code for answer in refused] == [403, 403, 403]
    assert cross_site.status_code == 403
    assert used.status_code == 303


async def test_the_forms_are_throttled(http_db: SessionMaker) -> None:
    """Past the forgot-password limit the request form answers 429; past the login limit the code form does."""
    security = SecuritySettings(
        rate_limit=RateLimitSettings(
            forgot_password=FlowLimits(per_ip=Limit(1, 60)), login_ip=Limit(1, 60), login_account=None
        )
    )
    app = email_pages_app(http_db, app_options={"security": security})
    code = {"email": "slow@camelot.bt", "code": "000000"}

    async with client_for(app.test_app) as client:
        first = await request_link(client, "slow@camelot.bt")
        second = await request_link(client, "slow@camelot.bt")
        codes = [await post_form(client, first, "/account/email-login/code", code) for _ in range(2)]

    assert [first.status_code, second.status_code] == [200, 429]
    assert "Too many attempts" in second.text
    assert [answer.status_code for answer in codes] == [400, 429]


async def test_a_user_with_a_second_factor_still_passes_it(http_db: SessionMaker) -> None:
    """The link of a user with TOTP leads to the code page (the e-mail is one factor); a user without one signs in."""
    clock = MFAClock()
    app = email_pages_app(http_db, app_options={"mfa": sql_mfa(http_db, clock)})

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "mfa@camelot.bt")
        enrolled = await enrol_on_pages(client, clock)
        await sign_out(client)
        await request_link(client, "mfa@camelot.bt")
        page = await client.get(link_path(app.last("mfa@camelot.bt"), EMAIL_SIGN_IN_PATH))
        second = await post_form(client, page, "/account/email-login/verify", {"token": hidden_token(page)})
        halfway = signed_in(client)
        clock.advance(seconds=30)
        done = await post_form(
            client,
            second,
            "/account/sign-in/code",
            {"challenge_token": challenge_of(second), "code": code_at(enrolled.secret, clock.now)},
        )

    async with client_for(app.test_app) as plain:
        await sign_up(plain, "plain@camelot.bt")
        await request_link(plain, "plain@camelot.bt")
        plain_page = await plain.get(link_path(app.last("plain@camelot.bt"), EMAIL_SIGN_IN_PATH))
        plain_done = await post_form(
            plain, plain_page, "/account/email-login/verify", {"token": hidden_token(plain_page)}
        )

    assert second.status_code == 200
    assert "Enter your code" in second.text
    assert not halfway
    assert done.status_code == 303
    assert signed_in(client)
    assert plain_done.status_code == 303  # no factor: signed in at once


async def test_a_signed_in_visitor_skips_the_request_form(http_db: SessionMaker) -> None:
    """The request form sends a signed-in visitor on, as the sign-in page does."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up_and_in(client, "already@camelot.bt")
        answer = await client.get("/account/email-login")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/account/"


async def test_with_the_api_csrf_check_off_the_pages_still_sign_in(http_db: SessionMaker) -> None:
    """``SecuritySettings(csrf=None)`` turns the API's check off; the pages keep their own and sign in."""
    app = email_pages_app(http_db, app_options={"security": SecuritySettings(csrf=None)})

    async with client_for(app.test_app) as client:
        await sign_up(client, "nocsrf@camelot.bt")
        sent = await request_link(client, "nocsrf@camelot.bt")
        code = code_in(app.last("nocsrf@camelot.bt"))
        right = await post_form(client, sent, "/account/email-login/code", {"email": "nocsrf@camelot.bt", "code": code})

    assert right.status_code == 303
    assert signed_in(client)


def test_other_errors_keep_the_pages_wording() -> None:
    """A code the e-mail pages have no sentence for gets the pages' general one."""
    error = email_error(HTTPException(400, detail="LOGIN_BAD_CREDENTIALS"), "email")

    assert (error.code, error.field) == ("LOGIN_BAD_CREDENTIALS", "email")
    assert error.message == "The e-mail address or the password is not correct."


async def test_a_verified_account_signs_in_by_e_mail_without_the_password_notice(http_db: SessionMaker) -> None:
    """Once the address is verified, an e-mail sign-in keeps the password and lands on the page asked for."""
    app = email_pages_app(http_db)

    async with client_for(app.test_app) as client:
        await sign_up(client, "twice@camelot.bt")
        for _ in range(2):
            await request_link(client, "twice@camelot.bt")
            page = await client.get(link_path(app.last("twice@camelot.bt"), EMAIL_SIGN_IN_PATH))
            used = await post_form(client, page, "/account/email-login/verify", {"token": hidden_token(page)})
            await sign_out(client)

    assert used.status_code == 303
    assert used.headers["location"] == "/account/"
