"""Signing out on the pages ends the session: a copied cookie is refused afterwards (issue 16, item 9)."""

from __future__ import annotations

import pytest

from fastapi_userkit.exceptions import ConfigurationError
from tests.app_factory import make_app
from tests.conftest import SessionMaker
from tests.pages.support import PAGES_SECRET, client_for, pages_app, sign_up_and_in, submit

_COOKIE = "fastapiusersauth"


async def test_sign_out_ends_a_copied_cookie(http_db: SessionMaker) -> None:
    """After "Sign out", a cookie copied before it is sent to sign-in by the account page and gets 401 on /users/me."""
    test_app = pages_app(http_db)

    async with client_for(test_app) as browser, client_for(test_app) as thief:
        await sign_up_and_in(browser, "ann@example.com")
        copied = browser.cookies[_COOKIE]
        thief.cookies.set(_COOKIE, copied)
        before = (await thief.get("/account/")).status_code, (await thief.get("/users/me")).status_code

        signed_out = await submit(browser, "/account/sign-out", "/account/sign-out", {})
        account = await thief.get("/account/")
        me = await thief.get("/users/me")

    assert before == (200, 200)
    assert signed_out.headers["location"].startswith("/account/sign-in")
    assert account.status_code == 303
    assert account.headers["location"].startswith("/account/sign-in")
    assert me.status_code == 401


def test_a_backend_without_refresh_is_refused_at_start_up(sqlite_db: SessionMaker) -> None:
    """The README's former setup (a plain JWT cookie backend, refresh off) fails when the router is built."""
    test_app = make_app(sqlite_db)

    with pytest.raises(ConfigurationError, match="needs refresh on"):
        test_app.fastapi_users.get_pages_router(test_app.backends["cookie"], secret=PAGES_SECRET)
