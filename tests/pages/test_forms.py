"""Error paths of the signed-out forms, and the options: verification, templates, styles, ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.pages import PAGE_TEMPLATES, get_pages_router
from fastapi_userkit.security import DEFAULT_PASSWORD_POLICY
from tests.app_factory import make_app
from tests.conftest import SessionMaker
from tests.pages.support import (
    PAGES_SECRET,
    PASSWORD,
    client_for,
    int_id_app,
    pages_app,
    pages_backends,
    sign_up_and_in,
    submit,
)


async def test_wrong_password_keeps_the_address_not_the_password(sqlite_db: SessionMaker) -> None:
    """A failed sign-in says so in plain words, refills the e-mail and never the password."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "fay@example.com")
        client.cookies.clear()
        failed = await submit(
            client, "/account/sign-in", "/account/sign-in", {"email": "fay@example.com", "password": "wrong password"}
        )

    assert failed.status_code == 400
    assert "The e-mail address or the password is not correct." in failed.text
    assert 'value="fay@example.com"' in failed.text
    assert "wrong password" not in failed.text


async def test_sign_up_errors(sqlite_db: SessionMaker) -> None:
    """Sign-up names an invalid address, a refused password (with its reason) and a taken address."""
    test_app = pages_app(sqlite_db, app_options={"password_policy": DEFAULT_PASSWORD_POLICY})

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "gus@example.com")
        client.cookies.clear()
        invalid = await submit(client, "/account/sign-up", "/account/sign-up", {"email": "nope", "password": PASSWORD})
        weak = await submit(
            client, "/account/sign-up", "/account/sign-up", {"email": "h@example.com", "password": "abc"}
        )
        taken = await submit(
            client, "/account/sign-up", "/account/sign-up", {"email": "GUS@example.com", "password": PASSWORD}
        )

    assert 'data-code="INVALID_EMAIL"' in invalid.text
    assert 'data-code="REGISTER_INVALID_PASSWORD"' in weak.text
    assert 'value="h@example.com"' in weak.text
    assert 'data-code="REGISTER_USER_ALREADY_EXISTS"' in taken.text


async def test_hidden_existing_users_sign_up_like_new_ones(sqlite_db: SessionMaker) -> None:
    """With ``hide_existing_users``, a taken address gets the new-account answer and the owner is told."""
    test_app = pages_app(sqlite_db, hide_existing_users=True)

    async with client_for(test_app) as client:
        first = await submit(
            client, "/account/sign-up", "/account/sign-up", {"email": "ivy@example.com", "password": PASSWORD}
        )
        second = await submit(
            client, "/account/sign-up", "/account/sign-up", {"email": "ivy@example.com", "password": PASSWORD}
        )

    assert (first.status_code, first.headers["location"]) == (second.status_code, second.headers["location"])
    assert test_app.hooks.last("on_registration_conflict")["user"].email == "ivy@example.com"


async def test_unverified_user_cannot_sign_in_when_verification_is_required(sqlite_db: SessionMaker) -> None:
    """With ``requires_verification``, sign-in explains and links to a new verification e-mail."""
    test_app = pages_app(sqlite_db, requires_verification=True)

    async with client_for(test_app) as client:
        refused = await sign_up_and_in(client, "jo@example.com")

    assert refused.status_code == 400
    assert 'data-code="LOGIN_USER_NOT_VERIFIED"' in refused.text
    assert "/account/resend-verification?email=jo%40example.com" in refused.text


@pytest.mark.parametrize("email", ["kim@example.com", "unknown@example.com"])
async def test_link_forms_answer_the_same_for_any_address(sqlite_db: SessionMaker, email: str) -> None:
    """Forgot-password and resend-verification show the same page whether or not the address has an account."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "kim@example.com")
        forgot = await submit(client, "/account/forgot-password", "/account/forgot-password", {"email": email})
        resend = await submit(client, "/account/resend-verification", "/account/resend-verification", {"email": email})
        invalid = await submit(client, "/account/forgot-password", "/account/forgot-password", {"email": "x"})

    assert forgot.status_code == resend.status_code == 200
    assert f"If an account uses <strong>{email}</strong>" in forgot.text
    assert f"If <strong>{email}</strong> belongs to an account" in resend.text
    assert invalid.status_code == 400
    assert 'data-code="INVALID_EMAIL"' in invalid.text


async def test_bad_verification_links(sqlite_db: SessionMaker) -> None:
    """A bad token, a reused one and a missing one each say what happened and offer a new link."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "lou@example.com")
        token = test_app.hooks.last("on_after_request_verify")["token"]
        bad = await submit(client, "/account/verify?token=x", "/account/verify", {"token": "x"})
        first = await submit(client, f"/account/verify?token={token}", "/account/verify", {"token": token})
        again = await submit(client, f"/account/verify?token={token}", "/account/verify", {"token": token})
        missing = await client.get("/account/verify")
        no_reset_token = await client.get("/account/reset-password")

    assert 'data-code="VERIFY_USER_BAD_TOKEN"' in bad.text
    assert "Your e-mail address is verified" in first.text
    assert 'data-code="VERIFY_USER_ALREADY_VERIFIED"' in again.text
    assert "needs the link from the e-mail" in missing.text
    assert "needs the link from the e-mail" in no_reset_token.text


async def test_templates_are_overridden_one_by_one(sqlite_db: SessionMaker, tmp_path: Path) -> None:
    """A template in ``template_dirs`` replaces its page alone; extra stylesheets are linked and allowed."""
    (tmp_path / "userkit").mkdir()
    (tmp_path / "userkit" / "sign_in.html").write_text(
        '{% extends "userkit/base.html" %}{% block content %}<h1>Welcome back to Acme</h1>{% endblock %}'
    )
    test_app = pages_app(sqlite_db, template_dirs=[tmp_path], stylesheets=["https://cdn.example/brand.css"])

    async with client_for(test_app) as client:
        sign_in = await client.get("/account/sign-in")
        sign_up = await client.get("/account/sign-up")
        css = await client.get("/account/userkit.css")

    assert "Welcome back to Acme" in sign_in.text
    assert "Create an account" in sign_up.text
    assert '<link rel="stylesheet" href="https://cdn.example/brand.css">' in sign_up.text
    assert "style-src 'self' https://cdn.example;" in sign_up.headers["content-security-policy"]
    assert css.headers["content-type"].startswith("text/css")
    assert "--uk-accent" in css.text
    assert all(
        (Path(__file__).parents[2] / "src/fastapi_userkit/pages/templates" / name).exists() for name in PAGE_TEMPLATES
    )


async def test_pages_work_with_integer_ids(sqlite_int_db: SessionMaker) -> None:
    """The pages sign up, sign in and show the account of an integer-id user."""
    app = int_id_app(sqlite_int_db)

    async with client_for(app) as client:
        signed_in = await sign_up_and_in(client, "max@example.com")
        account = await client.get("/account/")

    assert signed_in.status_code == 303
    assert "Signed in as <strong>max@example.com</strong>" in account.text


def test_misconfiguration_fails_at_construction(sqlite_db: SessionMaker) -> None:
    """A bearer backend or a short secret is refused when the router is built."""
    test_app = make_app(sqlite_db, backends_factory=pages_backends(sqlite_db))
    bearer = test_app.backends["jwt"]

    with pytest.raises(ConfigurationError, match="CookieTransport"):
        get_pages_router(bearer, test_app.fastapi_users.get_user_manager, secret=PAGES_SECRET)
    with pytest.raises(ConfigurationError, match="32 bytes"):
        test_app.fastapi_users.get_pages_router(test_app.backends["cookie"], secret="short")


async def test_signed_in_visitor_skips_the_sign_in_and_sign_up_pages(sqlite_db: SessionMaker) -> None:
    """Signed in, the sign-in and sign-up pages lead to ``next`` (the account page by default)."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "nia@example.com")
        sign_in = await client.get("/account/sign-in")
        sign_up = await client.get("/account/sign-up?next=/account/sign-out")

    assert sign_in.headers["location"] == "/account/"
    assert sign_up.headers["location"] == "/account/sign-out"


async def test_signed_out_sign_out_post_just_redirects(sqlite_db: SessionMaker) -> None:
    """Posting the sign-out form without a session leads to the sign-in page."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        signed_out = await submit(client, "/account/sign-in", "/account/sign-out", {})

    assert signed_out.headers["location"] == "/account/sign-in?notice=signed-out"


async def test_account_page_waits_for_the_new_address_when_verification_is_required(sqlite_db: SessionMaker) -> None:
    """With ``requires_verification``, an address change makes the account page ask to verify the new one."""
    test_app = pages_app(sqlite_db, requires_verification=True)

    async with client_for(test_app) as client:
        await submit(client, "/account/sign-up", "/account/sign-up", {"email": "oz@example.com", "password": PASSWORD})
        token = test_app.hooks.last("on_after_request_verify")["token"]
        await submit(client, f"/account/verify?token={token}", "/account/verify", {"token": token})
        await submit(client, "/account/sign-in", "/account/sign-in", {"email": "oz@example.com", "password": PASSWORD})
        await submit(client, "/account/", "/account/email", {"email": "oz2@example.com", "current_password": PASSWORD})
        account = await client.get("/account/")

    assert account.status_code == 403
    assert 'data-code="LOGIN_USER_NOT_VERIFIED"' in account.text
    assert "/account/resend-verification" in account.text
