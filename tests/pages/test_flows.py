"""The pages' main flows over HTTP, on SQLite and PostgreSQL: sign up, verify, sign in, reset, sign out."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SessionMaker
from tests.pages.support import PASSWORD, client_for, form_token, pages_app, sign_up_and_in, submit

PAGES = [
    ("/account/sign-in", ['autocomplete="email"', 'autocomplete="current-password"']),
    ("/account/sign-up", ['autocomplete="email"', 'autocomplete="new-password"']),
    ("/account/forgot-password", ['autocomplete="email"']),
    ("/account/reset-password?token=abc", ['autocomplete="new-password"', 'name="token" value="abc"']),
    ("/account/verify?token=abc", ['name="token" value="abc"', "Confirm my e-mail address"]),
    ("/account/resend-verification", ['autocomplete="email"']),
]


@pytest.mark.parametrize(("path", "expected"), PAGES)
async def test_every_signed_out_page_renders_an_accessible_form(
    sqlite_db: SessionMaker, path: str, expected: list[str]
) -> None:
    """Each signed-out page answers 200 with labelled inputs, autocomplete hints, a token and safe headers."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        page = await client.get(path)

    assert page.status_code == 200
    for fragment in expected:
        assert fragment in page.text
    for input_id in re.findall(r'<input id="([^"]+)"', page.text):
        assert f'<label for="{input_id}">' in page.text
    assert form_token(page)
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_sign_up_verify_sign_in_and_account(http_db: SessionMaker) -> None:
    """Sign-up e-mails a link; its page verifies only on POST; then sign-in leads to the account page."""
    test_app = pages_app(http_db)

    async with client_for(test_app) as client:
        created = await submit(
            client, "/account/sign-up", "/account/sign-up", {"email": "ada@example.com", "password": PASSWORD}
        )
        token = test_app.hooks.last("on_after_request_verify")["token"]
        opened = await client.get(f"/account/verify?token={token}")
        verified_by_get = "on_after_verify" in test_app.hooks.names()
        confirmed = await client.post(
            "/account/verify",
            data={"csrf_token": form_token(opened), "token": token},
            headers={"origin": "http://test"},
        )
        signed_in = await submit(
            client, "/account/sign-in", "/account/sign-in", {"email": "ada@example.com", "password": PASSWORD}
        )
        account = await client.get("/account/")

    assert created.status_code == 303
    assert created.headers["location"] == "/account/sign-in?notice=signed-up"
    assert not verified_by_get
    assert "Your e-mail address is verified" in confirmed.text
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/account/"
    assert "Signed in as <strong>ada@example.com</strong>" in account.text
    assert "uk-badge-ok" in account.text


async def test_forgot_and_reset_password(http_db: SessionMaker) -> None:
    """A reset link from the forgot page sets a new password once; the link then stops working."""
    test_app = pages_app(http_db)
    new_password = "a brand new passphrase here"

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "grace@example.com")
        client.cookies.clear()
        sent = await submit(
            client, "/account/forgot-password", "/account/forgot-password", {"email": "grace@example.com"}
        )
        token = test_app.hooks.last("on_after_forgot_password")["token"]
        reset_page = f"/account/reset-password?token={token}"
        reset = await submit(client, reset_page, "/account/reset-password", {"token": token, "password": new_password})
        reused = await submit(client, reset_page, "/account/reset-password", {"token": token, "password": PASSWORD})
        signed_in = await submit(
            client, "/account/sign-in", "/account/sign-in", {"email": "grace@example.com", "password": new_password}
        )

    assert "we sent it a link" in sent.text
    assert reset.status_code == 303
    assert reset.headers["location"] == "/account/sign-in?notice=password-reset"
    assert reused.status_code == 400
    assert 'data-code="RESET_PASSWORD_BAD_TOKEN"' in reused.text
    assert signed_in.status_code == 303


async def test_sign_out_clears_the_cookie(http_db: SessionMaker) -> None:
    """Sign-out is a confirmed POST that clears the cookie; the account page then asks to sign in."""
    test_app = pages_app(http_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "alan@example.com")
        confirm = await client.get("/account/sign-out")
        signed_out = await submit(client, "/account/sign-out", "/account/sign-out", {})
        account = await client.get("/account/")

    assert "alan@example.com" in confirm.text
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/account/sign-in?notice=signed-out"
    assert 'fastapiusersauth=""' in signed_out.headers["set-cookie"]
    assert account.status_code == 303
    assert account.headers["location"] == "/account/sign-in"
