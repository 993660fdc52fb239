"""Passkeys on the pages at their edges: every form's CSRF check, throttling, ended sessions, settings.

SQLite only: these pin refusals and branches the flows of ``test_passkeys.py`` (SQLite and
PostgreSQL) do not reach.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from fastapi_userkit import BaseUserManager, exceptions
from fastapi_userkit.authentication.reauthentication import Reauthentication, SessionEnded
from fastapi_userkit.security import Limit, RateLimitSettings, SecuritySettings
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock
from tests.pages.mfa_support import challenge_of, enrol_on_pages, password_step, post_form, sign_out, signed_in
from tests.pages.passkey_support import ORIGIN_HEADER, add_passkey, options_of, passkey_pages_app, sign_in_with_passkey
from tests.pages.support import client_for, sign_up_and_in
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN

EMAIL = "ada@example.com"
THROTTLED = SecuritySettings(rate_limit=RateLimitSettings(login_ip=Limit(2, 60), login_account=None))
FORMS = [
    "/account/passkeys/sign-in",
    "/account/passkeys/sign-up",
    "/account/passkeys/add",
    "/account/passkeys/rename",
    "/account/passkeys/delete",
    "/account/passkeys/confirm",
    "/account/passkeys/second-step",
    "/account/passkeys/password",
]
OPTIONS = [
    "/account/passkeys/sign-in/options",
    "/account/passkeys/sign-up/options",
    "/account/passkeys/add/options",
    "/account/passkeys/confirm/options",
    "/account/passkeys/second-step/options",
]


async def test_every_passkey_form_checks_its_token(sqlite_db: SessionMaker) -> None:
    """A forged token is refused by every passkey form (a 403 page) and options endpoint (a 403 JSON answer)."""
    test_app = passkey_pages_app(sqlite_db, clock=Clock())

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        forms = [await client.post(url, data={"csrf_token": "x"}, headers=ORIGIN_HEADER) for url in FORMS]
        options = [await client.post(url, data={"csrf_token": "x"}, headers=ORIGIN_HEADER) for url in OPTIONS]

    assert [answer.status_code for answer in forms] == [403] * len(FORMS)
    assert all("This form has expired" in answer.text for answer in forms)
    assert [answer.json()["code"] for answer in options] == ["CSRF_TOKEN_INVALID"] * len(OPTIONS)


async def test_the_password_confirm_page_checks_its_token(sqlite_db: SessionMaker) -> None:
    """Without two-factor login the pages' own "confirm it's you" refuses a forged form; signed out, sign in first."""
    test_app = passkey_pages_app(sqlite_db)

    async with client_for(test_app) as client:
        signed_out = await client.get("/account/confirm")
        await sign_up_and_in(client, EMAIL)
        forged = await client.post("/account/confirm", data={"csrf_token": "x"}, headers=ORIGIN_HEADER)

    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/account/sign-in")
    assert forged.status_code == 403


async def test_refused_passkey_sign_ins_are_throttled(sqlite_db: SessionMaker) -> None:
    """Refused passkey sign-ins count as failed logins of the address: past the limit the page answers 429."""
    test_app = passkey_pages_app(sqlite_db, app_options={"security": THROTTLED})
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        await sign_out(client)
        answers = [await sign_in_with_passkey(client, authenticator, origin="https://x.example") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert "Too many attempts" in answers[2].text


async def test_refused_confirmations_are_throttled(sqlite_db: SessionMaker) -> None:
    """Wrong passwords and refused passkeys on "confirm it's you" count as failed logins: then 429."""
    test_app = passkey_pages_app(sqlite_db, app_options={"security": THROTTLED})
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        page = await client.get("/account/confirm")
        wrong = await post_form(client, page, "/account/confirm", {"password": "not it at all"})
        options = await options_of(client, page, "/account/passkeys/confirm/options")
        refused = await post_form(
            client,
            page,
            "/account/passkeys/confirm",
            {"credential": json.dumps(authenticator.get(options.json(), origin="https://x.example"))},
        )
        throttled = await post_form(client, page, "/account/confirm", {"password": "not it at all"})
        options = await options_of(client, page, "/account/passkeys/confirm/options")
        throttled_passkey = await post_form(
            client, page, "/account/passkeys/confirm", {"credential": json.dumps(authenticator.get(options.json()))}
        )

    assert wrong.status_code == 400
    assert refused.status_code == 400
    assert 'data-code="PASSKEY_WRONG_ORIGIN"' in refused.text
    assert throttled.status_code == 429
    assert throttled_passkey.status_code == 429


async def test_refused_second_steps_are_throttled(sqlite_db: SessionMaker) -> None:
    """Refused passkeys on the second step count as failed logins: past the limit the page answers 429."""
    clock = Clock()
    test_app = passkey_pages_app(sqlite_db, clock=clock, security=THROTTLED)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        await enrol_on_pages(client, clock)
        await sign_out(client)
        page = await password_step(client, EMAIL)
        token = challenge_of(page)
        options = await options_of(client, page, "/account/passkeys/second-step/options", challenge_token=token)
        # Another origin's answer: refused before its challenge is taken, so it can be sent again.
        credential = json.dumps(authenticator.get(options.json(), origin="https://x.example"))
        answers = [
            await post_form(
                client, page, "/account/passkeys/second-step", {"challenge_token": token, "credential": credential}
            )
            for _ in range(3)
        ]

    assert [answer.status_code for answer in answers] == [400, 400, 429]


async def test_a_session_ended_while_confirming_leads_to_sign_in(
    sqlite_db: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the session ends between the check and the renewal, both confirmations send the browser to sign in."""
    test_app = passkey_pages_app(sqlite_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async def ended(*args: object, **kwargs: object) -> None:
        raise SessionEnded()

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        page = await client.get("/account/confirm")
        options = await options_of(client, page, "/account/passkeys/confirm/options")
        credential = json.dumps(authenticator.get(options.json()))
        monkeypatch.setattr(Reauthentication, "renew", ended)
        by_password = await post_form(client, page, "/account/confirm", {"password": "correct horse battery staple"})
        by_passkey = await post_form(client, page, "/account/passkeys/confirm", {"credential": credential})

    assert by_password.status_code == 303
    assert by_password.headers["location"].startswith("/account/sign-in")
    assert by_passkey.status_code == 303
    assert by_passkey.headers["location"].startswith("/account/sign-in")


async def test_a_stale_session_adds_no_passkey(sqlite_db: SessionMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sending the add form from a stale session goes to "confirm it's you"; nothing is stored."""
    from datetime import timedelta

    from fastapi_userkit.db._types import now_utc
    from fastapi_userkit.pages import _passkey_forms

    test_app = passkey_pages_app(sqlite_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        account = await client.get("/account/")
        options = await options_of(client, account, "/account/passkeys/add/options")
        credential = json.dumps(authenticator.create(options.json()))
        monkeypatch.setattr(_passkey_forms, "now_utc", lambda: now_utc() + timedelta(hours=1))
        stale = await post_form(client, account, "/account/passkeys/add", {"credential": credential})
        monkeypatch.undo()
        after = await client.get("/account/")

    assert stale.status_code == 303
    assert stale.headers["location"] == "/account/confirm?next=%2Faccount%2F"
    assert "You have no passkey yet" in after.text


async def test_a_passkey_of_a_gone_or_deactivated_user_signs_nobody_in(
    sqlite_db: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verified passkey whose user is deactivated, or deleted meanwhile, is refused like a wrong password."""
    test_app = passkey_pages_app(sqlite_db)
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        await sign_out(client)
        original: Callable[..., Awaitable[object]] = BaseUserManager.get

        async def deactivated(self: BaseUserManager[Any, Any], user_id: object) -> object:
            user = await original(self, user_id)
            user.is_active = False  # type: ignore[attr-defined]
            return user

        async def deleted(self: BaseUserManager[Any, Any], user_id: object) -> object:
            raise exceptions.UserNotExists()

        monkeypatch.setattr(BaseUserManager, "get", deactivated)
        inactive = await sign_in_with_passkey(client, authenticator)
        monkeypatch.setattr(BaseUserManager, "get", deleted)
        gone = await sign_in_with_passkey(client, authenticator)

    assert inactive.status_code == 400
    assert 'data-code="LOGIN_BAD_CREDENTIALS"' in inactive.text
    assert gone.status_code == 400
    assert 'data-code="LOGIN_BAD_CREDENTIALS"' in gone.text
    assert not signed_in(client)


async def test_without_the_api_csrf_cookie_or_verification_mails(sqlite_db: SessionMaker) -> None:
    """With the API's CSRF check off no token cookie is set; with send_verification off no e-mail is queued."""
    clock = Clock()
    test_app = passkey_pages_app(
        sqlite_db,
        clock=clock,
        security=SecuritySettings(csrf=None),
        settings={"user_verification": "preferred"},
        send_verification=False,
    )
    laptop, key = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        page = await client.get("/account/sign-up")
        options = await options_of(client, page, "/account/passkeys/sign-up/options", email=EMAIL)
        created = await post_form(
            client, page, "/account/passkeys/sign-up", {"credential": json.dumps(laptop.create(options.json()))}
        )
        await sign_out(client)
        signed = await sign_in_with_passkey(client, laptop)
        await add_passkey(client, key, uv=False)
        await sign_out(client)
        # A passkey without user verification of a user without a factor: one factor is enough.
        one_factor = await sign_in_with_passkey(client, key, uv=False)

    for answer in (created, signed, one_factor):
        assert answer.status_code == 303, answer.text
        assert "userkit-csrf" not in answer.headers.get("set-cookie", "")
    assert signed_in(client)


async def test_the_account_page_of_a_signed_out_visitor(sqlite_db: SessionMaker) -> None:
    """Signed out, the account page sends to sign in (its passkey section is not even looked up)."""
    test_app = passkey_pages_app(sqlite_db)

    async with client_for(test_app) as client:
        answer = await client.get("/account/")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/account/sign-in"


async def test_the_second_step_with_the_api_csrf_check_off(sqlite_db: SessionMaker) -> None:
    """With ``SecuritySettings(csrf=None)`` a passkey still completes the second step, with no token cookie."""
    clock = Clock()
    test_app = passkey_pages_app(sqlite_db, clock=clock, security=SecuritySettings(csrf=None))
    authenticator = SoftAuthenticator(ORIGIN)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        await add_passkey(client, authenticator)
        await enrol_on_pages(client, clock)
        await sign_out(client)
        page = await password_step(client, EMAIL)
        token = challenge_of(page)
        options = await options_of(client, page, "/account/passkeys/second-step/options", challenge_token=token)
        done = await post_form(
            client,
            page,
            "/account/passkeys/second-step",
            {"challenge_token": token, "credential": json.dumps(authenticator.get(options.json()))},
        )

    assert done.status_code == 303, done.text
    assert "userkit-csrf" not in done.headers.get("set-cookie", "")
    assert signed_in(client)


@pytest.mark.parametrize("options", [{"passkey_sign_up": False}, {"hide_existing_users": True}])
async def test_passkey_sign_up_can_be_off(sqlite_db: SessionMaker, options: dict[str, Any]) -> None:
    """Off by choice (integer ids) or with hide_existing_users (it would tell taken addresses): no button, no route."""
    test_app = passkey_pages_app(sqlite_db, **options)

    async with client_for(test_app) as client:
        page = await client.get("/account/sign-up")
        sign_in = await client.get("/account/sign-in")
        route = await options_of(client, page, "/account/passkeys/sign-up/options", email=EMAIL)

    assert "Create an account with a passkey" not in page.text
    assert "Sign in with a passkey" in sign_in.text
    assert route.status_code == 404
