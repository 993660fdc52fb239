"""An OAuth sign-in from the account pages of a user with a second factor (issue 18, item 7).

The callback of a browser flow sends the user to the pages' code form with the challenge in a
short-lived cookie; an API client keeps the JSON ``202``. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import httpx
import pytest

from fastapi_userkit.pages._second_step import CHALLENGE_COOKIE
from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock, code_at
from tests.mfa.http_support import enrol, mfa_app
from tests.oauth.flows import STATE_SECRET, oauth_login
from tests.oauth_provider import FakeProvider
from tests.pages.mfa_support import (
    Enrolled,
    challenge_of,
    enrol_on_pages,
    mfa_pages_app,
    post_form,
    sign_out,
    signed_in,
)
from tests.pages.support import client_for

EMAIL = "alice@example.com"
PAGE = "/account/sign-in/code"


@pytest.fixture
def clock() -> Clock:
    """The TOTP codes' clock."""
    return Clock()


@pytest.fixture
def provider() -> FakeProvider:
    """A provider where ``alice`` has an e-mail address."""
    provider = FakeProvider()
    provider.add_account("alice", account_id="1001", email=EMAIL)
    return provider


def with_oauth(test_app: TestApp, provider: FakeProvider) -> TestApp:
    """Mount the provider's login routers: the cookie backend's for the pages, the bearer one's for API clients."""
    fastapi_users = test_app.fastapi_users
    client = provider.client()
    test_app.app.include_router(
        fastapi_users.get_oauth_router(
            client,
            test_app.backends["cookie"],
            STATE_SECRET,
            post_login_redirect_urls=["/account/"],
            csrf_token_cookie_secure=False,  # the pages' test client speaks http
        ),
        prefix="/auth/fake-cookie",
    )
    test_app.app.include_router(
        fastapi_users.get_oauth_router(client, test_app.backends["jwt"], STATE_SECRET, csrf_token_cookie_secure=False),
        prefix="/auth/fake",
    )
    return test_app


@dataclass
class Challenged:
    """A browser at the code form after the provider's callback."""

    callback: httpx.Response
    page: httpx.Response
    enrolled: Enrolled


async def to_code_page(client: httpx.AsyncClient, provider: FakeProvider, clock: Clock) -> Challenged:
    """Sign in with the provider, enrol TOTP, sign out, then sign in with the provider again."""
    first = await oauth_login(client, provider, "alice", prefix="/auth/fake-cookie")
    assert first.status_code == 302, first.text
    enrolled = await enrol_on_pages(client, clock)
    await sign_out(client)
    callback = await oauth_login(client, provider, "alice", prefix="/auth/fake-cookie")
    page = await client.get(callback.headers["location"])
    return Challenged(callback, page, enrolled)


def set_cookies(response: httpx.Response, name: str) -> list[str]:
    """The ``Set-Cookie`` headers of ``response`` for the cookie ``name``."""
    return [value for value in response.headers.get_list("set-cookie") if value.startswith(f"{name}=")]


async def test_the_oauth_callback_leads_to_the_code_form_and_the_code_signs_in(
    http_db: SessionMaker, clock: Clock, provider: FakeProvider
) -> None:
    """The callback redirects to the code form (no session yet, the token not in the URL); the code signs in."""
    test_app = with_oauth(mfa_pages_app(http_db, clock), provider)
    async with client_for(test_app) as client:
        challenged = await to_code_page(client, provider, clock)
        session_before_code = signed_in(client)
        clock.advance(30)  # the confirming code's step cannot be used again
        code = code_at(challenged.enrolled.secret, clock.now)
        done = await post_form(
            client,
            challenged.page,
            PAGE,
            {"challenge_token": challenge_of(challenged.page), "code": code, "next": "/account/"},
        )
        account = await client.get("/account/")

    location = challenged.callback.headers["location"]
    assert challenged.callback.status_code == 302
    assert urllib.parse.urlsplit(location).path == PAGE
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(location).query) == {"next": ["/account/"]}
    assert challenge_of(challenged.page) not in location
    assert challenged.callback.headers["cache-control"] == "no-store"
    assert not set_cookies(challenged.callback, "fastapiusersauth")
    assert challenged.page.status_code == 200
    assert "Enter your code" in challenged.page.text
    assert not session_before_code
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/account/"
    assert signed_in(client)
    assert EMAIL in account.text


async def test_the_challenge_cookie_is_httponly_scoped_and_read_once(
    http_db: SessionMaker, clock: Clock, provider: FakeProvider
) -> None:
    """The cookie is HttpOnly, SameSite=Lax, on the page's path, as long as the challenge; the page clears it."""
    test_app = with_oauth(mfa_pages_app(http_db, clock), provider)
    async with client_for(test_app) as client:
        challenged = await to_code_page(client, provider, clock)
        left_in_jar = client.cookies.get(CHALLENGE_COOKIE, path=PAGE)
        again = await client.get(challenged.callback.headers["location"])

    [issued] = set_cookies(challenged.callback, CHALLENGE_COOKIE)
    attributes = [part.strip().lower() for part in issued.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert f"path={PAGE}" in attributes
    assert "max-age=300" in attributes
    assert "secure" not in attributes  # as the pages' cookie backend (cookie_secure=False here)
    assert issued.split(";")[0].split("=", 1)[1] == challenge_of(challenged.page)
    [cleared] = set_cookies(challenged.page, CHALLENGE_COOKIE)
    assert "max-age=0" in cleared.lower()
    assert left_in_jar is None
    # Opened again, the page has no challenge: sign-in starts over.
    assert again.status_code == 303
    assert again.headers["location"].startswith("/account/sign-in")


async def test_a_wrong_code_shows_the_form_again(http_db: SessionMaker, clock: Clock, provider: FakeProvider) -> None:
    """A wrong code answers 400 with the form and the same challenge; no session is opened."""
    test_app = with_oauth(mfa_pages_app(http_db, clock), provider)
    async with client_for(test_app) as client:
        challenged = await to_code_page(client, provider, clock)
        token = challenge_of(challenged.page)
        wrong = await post_form(client, challenged.page, PAGE, {"challenge_token": token, "code": "000000"})
        session_after_wrong = signed_in(client)

    assert wrong.status_code == 400
    assert "This code is not correct" in wrong.text
    assert challenge_of(wrong) == token
    assert not session_after_wrong


async def test_an_api_client_still_gets_the_json_challenge(
    http_db: SessionMaker, clock: Clock, provider: FakeProvider
) -> None:
    """Without a redirect target (the bearer router) the callback answers the JSON 202, no cookie."""
    test_app = with_oauth(mfa_pages_app(http_db, clock), provider)
    async with client_for(test_app) as client:
        await to_code_page(client, provider, clock)
        client.cookies.clear()
        api = await oauth_login(client, provider, "alice")

    assert api.status_code == 202, api.text
    assert api.json()["detail"] == "MFA_REQUIRED"
    assert api.json()["challenge_token"]
    assert not set_cookies(api, CHALLENGE_COOKIE)


async def test_without_the_pages_a_browser_flow_keeps_the_json_challenge(
    http_db: SessionMaker, clock: Clock, provider: FakeProvider
) -> None:
    """An app with redirect URLs but no account pages has no form to show: the callback answers the 202."""
    test_app = with_oauth(mfa_app(http_db, clock), provider)
    async with client_for(test_app) as client:
        first = await oauth_login(client, provider, "alice")
        assert first.status_code == 200, first.text
        await enrol(client, clock, {"Authorization": f"Bearer {first.json()['access_token']}"})
        challenged = await oauth_login(client, provider, "alice", prefix="/auth/fake-cookie")

    assert challenged.status_code == 202, challenged.text
    assert challenged.json()["detail"] == "MFA_REQUIRED"
    assert not set_cookies(challenged, CHALLENGE_COOKIE)
