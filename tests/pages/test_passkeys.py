"""Passkeys on the account pages over HTTP (issue 19, item 6), on SQLite and PostgreSQL.

The software authenticator plays the browser's WebAuthn; the requests are those the pages'
script sends (see ``tests/pages/passkey_support.py``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from fastapi_userkit.db._types import now_utc
from fastapi_userkit.pages import _passkey_forms
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock
from tests.mfa.http_support import clear_rate_limits
from tests.pages.mfa_support import challenge_of, enrol_on_pages, password_step, post_form, sign_out, signed_in
from tests.pages.passkey_support import (
    ORIGIN_HEADER,
    add_passkey,
    options_of,
    passkey_pages_app,
    sign_in_with_passkey,
)
from tests.pages.support import PASSWORD, client_for, pages_app, sign_up_and_in
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN

EMAIL = "ada@example.com"
_PASSKEY_ID = re.compile(r'name="passkey_id" value="([^"]+)"')


def an_hour_later() -> datetime:
    """The real time an hour on: every sign-in made in the test is stale by then."""
    return now_utc() + timedelta(hours=1)


def passkey_ids(page_text: str) -> list[str]:
    """The ids of the passkeys listed on an account page (each has a rename and a delete form)."""
    return list(dict.fromkeys(_PASSKEY_ID.findall(page_text)))


async def test_add_a_passkey_then_sign_in_with_it(http_db: SessionMaker) -> None:
    """A passkey added on the account page signs in from the sign-in page, no e-mail typed, with a cookie session."""
    await clear_rate_limits(http_db)
    test_app = passkey_pages_app(http_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        added = await add_passkey(client, authenticator, name="Laptop")
        account = await client.get(added.headers["location"])
        await sign_out(client)
        sign_in_page = await client.get("/account/sign-in")
        options = await options_of(client, sign_in_page, "/account/passkeys/sign-in/options")
        signed = await sign_in_with_passkey(client, authenticator)
        cookie = signed_in(client)
        after = await client.get("/account/")

    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/account/?notice=passkey-added"
    assert "Your passkey is added" in account.text
    assert '<strong class="uk-passkey-name">Laptop</strong>' in account.text
    assert "not used yet" in account.text
    assert options.status_code == 200
    assert options.json()["allowCredentials"] == []
    assert options.headers["cache-control"] == "no-store"
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"] == "/account/"
    assert cookie
    assert EMAIL in after.text
    assert "last used" in after.text


async def test_the_pages_load_the_script_only_with_passkeys(sqlite_db: SessionMaker) -> None:
    """With passkeys the pages link the router's script (CSP: script from self); without, no script at all."""
    with_passkeys = passkey_pages_app(sqlite_db)
    without = pages_app(sqlite_db)

    async with client_for(with_passkeys) as client:
        page = await client.get("/account/sign-in")
        script = await client.get("/account/userkit-passkeys.js")
    async with client_for(without) as client:
        plain = await client.get("/account/sign-in")
        missing = await client.get("/account/userkit-passkeys.js")

    policy = page.headers["content-security-policy"]
    assert '<script src="/account/userkit-passkeys.js" defer></script>' in page.text
    assert "script-src 'self'; connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    # Hidden until the script finds WebAuthn: without it (or without JavaScript) nothing shows.
    assert 'id="uk-passkey-sign-in" data-uk-passkey-area hidden' in page.text
    assert "Sign in with a passkey" in page.text
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "window.PublicKeyCredential" in script.text
    assert "<script" not in plain.text
    assert "script-src" not in plain.headers["content-security-policy"]
    assert "passkey" not in plain.text.lower()
    assert missing.status_code == 404


async def test_forms_without_the_page_token_are_refused(http_db: SessionMaker) -> None:
    """The options endpoint and the sign-in form check the CSRF token: 403, in plain words, before any ceremony."""
    test_app = passkey_pages_app(http_db)

    async with client_for(test_app) as client:
        await client.get("/account/sign-in")
        options = await client.post(
            "/account/passkeys/sign-in/options", data={"csrf_token": "forged"}, headers=ORIGIN_HEADER
        )
        cross_site = await client.post(
            "/account/passkeys/sign-in/options", data={}, headers={"origin": "https://evil.example"}
        )
        sign_in = await client.post(
            "/account/passkeys/sign-in", data={"csrf_token": "forged", "credential": "{}"}, headers=ORIGIN_HEADER
        )

    assert options.status_code == 403
    assert options.json()["code"] == "CSRF_TOKEN_INVALID"
    assert "Reload the page" in options.json()["message"]
    assert cross_site.status_code == 403
    assert cross_site.json()["code"] == "CSRF_CROSS_SITE_REQUEST"
    assert sign_in.status_code == 403
    assert "This form has expired" in sign_in.text


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "not json",
        "[1, 2]",
        '"text"',
        "{}",
        '{"id": "***", "rawId": "***", "response": {}}',
        "[" * 5000,
        "x" * 70000,
    ],
)
async def test_a_bad_credential_is_a_page_error(http_db: SessionMaker, credential: str) -> None:
    """Whatever the credential field holds, the sign-in page answers 400 in plain words, never a 500."""
    await clear_rate_limits(http_db)
    test_app = passkey_pages_app(http_db)

    async with client_for(test_app) as client:
        page = await client.get("/account/sign-in")
        answer = await post_form(client, page, "/account/passkeys/sign-in", {"credential": credential})

    assert answer.status_code == 400, answer.text
    assert 'data-code="PASSKEY_INVALID_PAYLOAD"' in answer.text
    assert "could not be read" in answer.text
    assert not signed_in(client)


async def test_refused_passkeys_say_why(sqlite_db: SessionMaker) -> None:
    """Another origin, a replayed answer and a deleted passkey each get their sentence on the sign-in page."""
    test_app = passkey_pages_app(sqlite_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        await sign_out(client)
        phished = await sign_in_with_passkey(client, authenticator, origin="https://evil.example")
        page = await client.get("/account/sign-in")
        options = await options_of(client, page, "/account/passkeys/sign-in/options")
        credential = json.dumps(authenticator.get(options.json()))
        first = await post_form(client, page, "/account/passkeys/sign-in", {"credential": credential})
        await sign_out(client)
        page = await client.get("/account/sign-in")
        replayed = await post_form(client, page, "/account/passkeys/sign-in", {"credential": credential})

    assert phished.status_code == 400
    assert 'data-code="PASSKEY_WRONG_ORIGIN"' in phished.text
    assert "another site address" in phished.text
    assert first.status_code == 303
    assert replayed.status_code == 400
    assert 'data-code="PASSKEY_CHALLENGE_INVALID"' in replayed.text
    assert not signed_in(client)


async def test_rename_and_delete_from_the_account_page(http_db: SessionMaker) -> None:
    """Rename and delete work as plain forms; a deleted passkey no longer signs in; bad input is a page error."""
    await clear_rate_limits(http_db)
    test_app = passkey_pages_app(http_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        account = await client.get("/account/")
        (passkey_id,) = passkey_ids(account.text)
        renamed = await post_form(
            client, account, "/account/passkeys/rename", {"passkey_id": passkey_id, "name": "  Phone  "}
        )
        after_rename = await client.get("/account/")
        empty_name = await post_form(
            client, account, "/account/passkeys/rename", {"passkey_id": passkey_id, "name": ""}
        )
        not_an_id = await post_form(client, account, "/account/passkeys/delete", {"passkey_id": "nope"})
        someone_elses = await post_form(
            client, account, "/account/passkeys/delete", {"passkey_id": "00000000-0000-4000-8000-000000000000"}
        )
        deleted = await post_form(client, account, "/account/passkeys/delete", {"passkey_id": passkey_id})
        after_delete = await client.get("/account/")
        await sign_out(client)
        refused = await sign_in_with_passkey(client, authenticator)

    assert renamed.status_code == 303
    assert renamed.headers["location"] == "/account/?notice=passkey-renamed"
    assert '<strong class="uk-passkey-name">Phone</strong>' in after_rename.text
    assert empty_name.status_code == 400
    assert 'data-code="PASSKEY_INVALID_NAME"' in empty_name.text
    assert "uk-passkey-name" in empty_name.text  # the page again, with the list
    assert not_an_id.status_code == 404
    assert someone_elses.status_code == 404
    assert 'data-code="PASSKEY_UNKNOWN_CREDENTIAL"' in someone_elses.text
    assert deleted.headers["location"] == "/account/?notice=passkey-deleted"
    assert "You have no passkey yet" in after_delete.text
    assert refused.status_code == 400
    assert 'data-code="PASSKEY_UNKNOWN_CREDENTIAL"' in refused.text


async def test_a_bad_registration_is_a_page_error(http_db: SessionMaker) -> None:
    """A registration made for another RP id, or a garbled one, shows the account page with the error."""
    await clear_rate_limits(http_db)
    test_app = passkey_pages_app(http_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        wrong_rp = await add_passkey(client, authenticator, rp_id="evil.example")
        account = await client.get("/account/")
        garbled = await post_form(client, account, "/account/passkeys/add", {"credential": '{"type": 1}'})

    assert wrong_rp.status_code == 400
    assert 'data-code="PASSKEY_WRONG_RP_ID"' in wrong_rp.text
    assert "Your account" in wrong_rp.text
    assert garbled.status_code == 400
    assert 'data-code="PASSKEY_INVALID_PAYLOAD"' in garbled.text


async def test_signed_out_visitors_are_sent_to_sign_in(sqlite_db: SessionMaker) -> None:
    """The management endpoints need a session: the script is told to open the sign-in page, a form is redirected."""
    test_app = passkey_pages_app(sqlite_db)

    async with client_for(test_app) as client:
        page = await client.get("/account/sign-in")
        options = await options_of(client, page, "/account/passkeys/add/options")
        confirm_options = await options_of(client, page, "/account/passkeys/confirm/options")
        form = await post_form(client, page, "/account/passkeys/add", {"credential": "{}"})

    assert options.status_code == 401
    assert options.json() == {"redirect": "/account/sign-in"}
    assert confirm_options.json() == {"redirect": "/account/sign-in"}
    assert form.status_code == 303
    assert form.headers["location"].startswith("/account/sign-in")


async def test_a_stale_session_confirms_first(http_db: SessionMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Older than five minutes, adding, renaming or deleting goes through "confirm it's you" (password or passkey)."""
    await clear_rate_limits(http_db)
    test_app = passkey_pages_app(http_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        account = await client.get("/account/")
        (passkey_id,) = passkey_ids(account.text)
        monkeypatch.setattr(_passkey_forms, "now_utc", an_hour_later)
        options = await options_of(client, account, "/account/passkeys/add/options")
        rename = await post_form(client, account, "/account/passkeys/rename", {"passkey_id": passkey_id, "name": "X"})
        confirm_page = await client.get(rename.headers["location"])
        wrong = await post_form(client, confirm_page, "/account/confirm", {"password": "wrong password!"})
        by_password = await post_form(client, confirm_page, "/account/confirm", {"password": PASSWORD})
        monkeypatch.undo()
        account = await client.get("/account/")  # the renewed session's form tokens
        renamed = await post_form(client, account, "/account/passkeys/rename", {"passkey_id": passkey_id, "name": "X"})
        # Confirming with the passkey renews the session too.
        monkeypatch.setattr(_passkey_forms, "now_utc", an_hour_later)
        stale_delete = await post_form(client, account, "/account/passkeys/delete", {"passkey_id": passkey_id})
        monkeypatch.undo()
        confirm_page = await client.get(stale_delete.headers["location"])
        confirm_options = await options_of(client, confirm_page, "/account/passkeys/confirm/options")
        by_passkey = await post_form(
            client,
            confirm_page,
            "/account/passkeys/confirm",
            {"credential": json.dumps(authenticator.get(confirm_options.json())), "next": "/account/"},
        )
        account = await client.get("/account/")
        deleted = await post_form(client, account, "/account/passkeys/delete", {"passkey_id": passkey_id})

    assert options.status_code == 401
    assert options.json() == {"redirect": "/account/confirm?next=%2Faccount%2F"}
    assert rename.status_code == 303
    assert rename.headers["location"] == "/account/confirm?next=%2Faccount%2F"
    assert "<h1>Confirm it's you</h1>" in confirm_page.text
    assert "Confirm with a passkey" in confirm_page.text
    assert wrong.status_code == 400
    assert "Your password is not correct" in wrong.text
    assert by_password.status_code == 303
    assert by_password.headers["location"] == "/account/?notice=confirmed"
    assert renamed.headers["location"] == "/account/?notice=passkey-renamed"
    assert stale_delete.headers["location"] == "/account/confirm?next=%2Faccount%2F"
    assert [item["id"] for item in confirm_options.json()["allowCredentials"]] != []
    assert by_passkey.status_code == 303, by_passkey.text
    assert by_passkey.headers["location"] == "/account/?notice=confirmed"
    assert deleted.headers["location"] == "/account/?notice=passkey-deleted"


async def test_confirming_needs_a_passkey_of_ones_own(sqlite_db: SessionMaker) -> None:
    """A user without a passkey is told so; a garbled answer to "confirm it's you" is a page error."""
    test_app = passkey_pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        page = await client.get("/account/confirm")
        options = await options_of(client, page, "/account/passkeys/confirm/options")
        garbled = await post_form(client, page, "/account/passkeys/confirm", {"credential": "nope"})

    assert options.status_code == 400
    assert options.json()["code"] == "PASSKEY_UNKNOWN_CREDENTIAL"
    assert garbled.status_code == 400
    assert 'data-code="PASSKEY_INVALID_PAYLOAD"' in garbled.text


async def test_with_two_factor_login(http_db: SessionMaker) -> None:
    """A TOTP user: a passkey without user verification leads to the second step; one with it signs in at once."""
    await clear_rate_limits(http_db)
    clock = Clock()
    test_app = passkey_pages_app(http_db, clock=clock, settings={"user_verification": "preferred"})
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator, uv=False)
        await enrol_on_pages(client, clock)
        # The enrolment's sign-in is one factor: managing passkeys now asks for the code first.
        account = await client.get("/account/")
        one_factor = await post_form(client, account, "/account/passkeys/add/options", {})
        await sign_out(client)
        without_uv = await sign_in_with_passkey(client, authenticator, uv=False)
        no_cookie = signed_in(client)
        with_uv = await sign_in_with_passkey(client, authenticator, uv=True)
        account = await client.get("/account/")
        fresh_options = await options_of(client, account, "/account/passkeys/add/options")
        await sign_out(client)
        password_only = await password_step(client, EMAIL)

    assert one_factor.status_code == 401
    assert one_factor.json() == {"redirect": "/account/confirm?next=%2Faccount%2F"}
    assert without_uv.status_code == 200
    assert "Enter your code" in without_uv.text
    assert not no_cookie
    assert with_uv.status_code == 303, with_uv.text
    assert fresh_options.status_code == 200
    assert "Enter your code" in password_only.text


async def test_requires_verification_refuses_unverified_users(sqlite_db: SessionMaker) -> None:
    """With requires_verification, a passkey of an unverified user does not sign in."""
    test_app = passkey_pages_app(sqlite_db)
    verified_app = passkey_pages_app(sqlite_db, requires_verification=True)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
    async with client_for(verified_app) as client:
        refused = await sign_in_with_passkey(client, authenticator)

    assert refused.status_code == 400
    assert 'data-code="LOGIN_USER_NOT_VERIFIED"' in refused.text


async def test_create_an_account_with_a_passkey(http_db: SessionMaker) -> None:
    """Sign-up with a passkey and no password signs in at once; its only passkey cannot be deleted."""
    await clear_rate_limits(http_db)
    test_app = passkey_pages_app(http_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        page = await client.get("/account/sign-up")
        options = await options_of(client, page, "/account/passkeys/sign-up/options", email=EMAIL, password="x")
        created = await post_form(
            client, page, "/account/passkeys/sign-up", {"credential": json.dumps(authenticator.create(options.json()))}
        )
        cookie = signed_in(client)
        account = await client.get("/account/")
        (passkey_id,) = passkey_ids(account.text)
        last = await post_form(client, account, "/account/passkeys/delete", {"passkey_id": passkey_id})
        await sign_out(client)
        no_password = await password_step(client, EMAIL, "x")
        back = await sign_in_with_passkey(client, authenticator)

    assert "Create an account with a passkey" in page.text
    assert options.status_code == 200, options.text
    assert options.json()["user"]["name"] == EMAIL
    assert options.json()["authenticatorSelection"]["residentKey"] == "required"
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/account/"
    assert cookie
    assert EMAIL in account.text
    assert last.status_code == 400
    assert 'data-code="PASSKEY_LAST_LOGIN_METHOD"' in last.text
    assert "only way to sign in" in last.text
    assert no_password.status_code == 400
    assert back.status_code == 303


async def test_passkey_sign_up_refusals(sqlite_db: SessionMaker) -> None:
    """A taken or invalid address is refused before the ceremony; a replayed or garbled answer is a page error."""
    test_app = passkey_pages_app(sqlite_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await sign_out(client)
        page = await client.get("/account/sign-up")
        taken = await options_of(client, page, "/account/passkeys/sign-up/options", email=EMAIL)
        invalid = await options_of(client, page, "/account/passkeys/sign-up/options", email="not an address")
        options = await options_of(client, page, "/account/passkeys/sign-up/options", email="new@example.com")
        credential = json.dumps(authenticator.create(options.json()))
        first = await post_form(client, page, "/account/passkeys/sign-up", {"credential": credential})
        await sign_out(client)
        page = await client.get("/account/sign-up")
        replayed = await post_form(client, page, "/account/passkeys/sign-up", {"credential": credential})
        garbled = await post_form(client, page, "/account/passkeys/sign-up", {"credential": "{"})

    assert taken.status_code == 400
    assert taken.json()["code"] == "REGISTER_USER_ALREADY_EXISTS"
    assert invalid.status_code == 400
    assert invalid.json()["code"] == "INVALID_EMAIL"
    assert first.status_code == 303
    assert replayed.status_code == 400
    assert 'data-code="PASSKEY_CHALLENGE_INVALID"' in replayed.text
    assert "Create an account" in replayed.text
    assert garbled.status_code == 400
    assert 'data-code="PASSKEY_INVALID_PAYLOAD"' in garbled.text


async def test_passkey_sign_up_waits_for_verification(sqlite_db: SessionMaker) -> None:
    """With requires_verification, a passkey sign-up creates the account and asks to verify the address first."""
    test_app = passkey_pages_app(sqlite_db, requires_verification=True)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        page = await client.get("/account/sign-up")
        options = await options_of(client, page, "/account/passkeys/sign-up/options", email=EMAIL)
        created = await post_form(
            client, page, "/account/passkeys/sign-up", {"credential": json.dumps(authenticator.create(options.json()))}
        )

    assert created.status_code == 303
    assert created.headers["location"] == "/account/sign-in?notice=signed-up"
    assert not signed_in(client)


async def test_a_passkey_answers_the_second_step(http_db: SessionMaker) -> None:
    """After the password of a TOTP user, "Use a passkey" completes the sign-in; refusals keep or restart the step."""
    await clear_rate_limits(http_db)
    clock = Clock()
    test_app = passkey_pages_app(http_db, clock=clock)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        await enrol_on_pages(client, clock)
        await sign_out(client)
        code_page = await password_step(client, EMAIL)
        token = challenge_of(code_page)
        options = await options_of(client, code_page, "/account/passkeys/second-step/options", challenge_token=token)
        phished = await post_form(
            client,
            code_page,
            "/account/passkeys/second-step",
            {
                "challenge_token": token,
                "credential": json.dumps(authenticator.get(options.json(), origin="https://x.example")),
            },
        )
        options = await options_of(client, code_page, "/account/passkeys/second-step/options", challenge_token=token)
        done = await post_form(
            client,
            code_page,
            "/account/passkeys/second-step",
            {
                "challenge_token": token,
                "credential": json.dumps(authenticator.get(options.json())),
                "next": "/account/",
            },
        )
        cookie = signed_in(client)
        account = await client.get("/account/")  # the new session's form tokens
        spent = await options_of(client, account, "/account/passkeys/second-step/options", challenge_token=token)
        restart = await post_form(
            client, account, "/account/passkeys/second-step", {"challenge_token": "", "credential": "{}"}
        )

    assert "Use a passkey" in code_page.text
    assert options.status_code == 200, options.text
    assert len(options.json()["allowCredentials"]) == 1
    assert phished.status_code == 400
    assert 'data-code="PASSKEY_WRONG_ORIGIN"' in phished.text
    assert "Enter your code" in phished.text
    assert done.status_code == 303, done.text
    assert cookie
    assert spent.status_code == 400
    assert spent.json()["code"] == "MFA_CHALLENGE_INVALID"
    assert restart.status_code == 400
    assert "<h1>Sign in</h1>" in restart.text


async def test_the_second_step_without_a_passkey(sqlite_db: SessionMaker) -> None:
    """A TOTP user without a passkey is told to enter a code instead."""
    clock = Clock()
    test_app = passkey_pages_app(sqlite_db, clock=clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await enrol_on_pages(client, clock)
        await sign_out(client)
        code_page = await password_step(client, EMAIL)
        options = await options_of(
            client, code_page, "/account/passkeys/second-step/options", challenge_token=challenge_of(code_page)
        )

    assert options.status_code == 400
    assert options.json()["message"] == "Your account has no passkey yet: enter a code instead."


async def test_a_passkey_account_chooses_a_first_password(
    http_db: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account made with a passkey sets a first password with no current one; then it signs in with either."""
    await clear_rate_limits(http_db)
    test_app = passkey_pages_app(http_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        page = await client.get("/account/sign-up")
        options = await options_of(client, page, "/account/passkeys/sign-up/options", email=EMAIL)
        await post_form(
            client, page, "/account/passkeys/sign-up", {"credential": json.dumps(authenticator.create(options.json()))}
        )
        account = await client.get("/account/")
        monkeypatch.setattr(_passkey_forms, "now_utc", an_hour_later)
        stale = await post_form(client, account, "/account/passkeys/password", {"new_password": PASSWORD})
        monkeypatch.undo()
        chosen = await post_form(client, account, "/account/passkeys/password", {"new_password": PASSWORD})
        after = await client.get(chosen.headers["location"])
        again = await post_form(client, after, "/account/passkeys/password", {"new_password": "another passphrase"})
        await sign_out(client)
        by_password = await password_step(client, EMAIL)

    assert "Set password" in account.text
    assert 'id="uk-current-password"' not in account.text
    assert stale.headers["location"] == "/account/confirm?next=%2Faccount%2F"
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"] == "/account/?notice=password-set"
    assert "Your password is set" in after.text
    assert 'id="uk-current-password"' in after.text
    assert again.status_code == 400
    assert 'data-code="PASSWORD_ALREADY_SET"' in again.text
    assert by_password.status_code == 303
