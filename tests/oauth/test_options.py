"""Router options: the post-login redirect of cookie logins, and configuration checked at construction."""

from __future__ import annotations

from typing import Any

import pytest

from fastapi_userkit.exceptions import ConfigurationError
from tests.conftest import SessionMaker
from tests.oauth.flows import STATE_SECRET, UserReadWithAccounts, authorize, https_client, make_oauth_app
from tests.oauth_provider import FakeProvider
from tests.router.helpers import parse_set_cookie

COOKIE_LOGIN = "/auth/fake-cookie"
REDIRECTS = ("https://app.example.com/welcome", "/dashboard")


async def test_cookie_login_redirects_to_the_default_url(http_db: SessionMaker, provider: FakeProvider) -> None:
    """With post_login_redirect_urls, a cookie login answers 302 to the first URL, cookie set, CSRF cookie deleted."""
    test_app = make_oauth_app(http_db, provider, post_login_redirect_urls=REDIRECTS)
    async with https_client(test_app.app) as client:
        callback_url = await provider.consent(await authorize(client, COOKIE_LOGIN), "alice")

        response = await client.get(callback_url)
        me = await client.get("/users/me")

    assert response.status_code == 302
    assert response.headers["location"] == "https://app.example.com/welcome"
    cookies = {name: value for name, value, _ in map(parse_set_cookie, response.headers.get_list("set-cookie"))}
    assert cookies["fastapiusersoauthcsrf"] == ""
    assert cookies["fastapiusersauth"] != ""
    assert me.json()["email"] == "alice@example.com"
    assert test_app.hooks.last("on_after_login")["response"] is not None


async def test_next_picks_another_allowed_url(http_db: SessionMaker, provider: FakeProvider) -> None:
    """``/authorize?next=`` selects one of the allowed URLs; it travels inside the signed state."""
    test_app = make_oauth_app(http_db, provider, post_login_redirect_urls=REDIRECTS)
    async with https_client(test_app.app) as client:
        url = await authorize(client, COOKIE_LOGIN, next="/dashboard")

        response = await client.get(await provider.consent(url, "alice"))

    assert response.status_code == 302
    assert response.headers["location"] == "/dashboard"


async def test_next_outside_the_allow_list_is_refused(http_db: SessionMaker, provider: FakeProvider) -> None:
    """A ``next`` URL that is not on the list is 400 OAUTH_REDIRECT_NOT_ALLOWED (no open redirect)."""
    test_app = make_oauth_app(http_db, provider, post_login_redirect_urls=REDIRECTS)
    async with https_client(test_app.app) as client:
        response = await client.get(f"{COOKIE_LOGIN}/authorize", params={"next": "https://evil.example/welcome"})

    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_REDIRECT_NOT_ALLOWED"}
    assert "set-cookie" not in response.headers


async def test_without_the_option_the_cookie_login_is_204(http_db: SessionMaker, provider: FakeProvider) -> None:
    """Without post_login_redirect_urls, ``next`` is ignored and the answer stays FastAPI Users' 204."""
    test_app = make_oauth_app(http_db, provider)
    async with https_client(test_app.app) as client:
        url = await authorize(client, COOKIE_LOGIN, next="https://evil.example/")

        response = await client.get(await provider.consent(url, "alice"))

    assert response.status_code == 204
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("backend_name", "options", "message"),
    [
        ("jwt", {"post_login_redirect_urls": ["/x"]}, "CookieTransport"),
        ("cookie", {"post_login_redirect_urls": "/x"}, "not one string"),
        ("cookie", {"post_login_redirect_urls": ["//evil.example/"]}, "not a path"),
        ("cookie", {"post_login_redirect_urls": ["javascript:alert(1)"]}, "not a path"),
        ("cookie", {"state_secret": ""}, "state_secret"),
    ],
    ids=["bearer-backend", "string", "scheme-relative", "javascript", "empty-secret"],
)
def test_misconfiguration_fails_at_construction(
    http_db: SessionMaker, provider: FakeProvider, backend_name: str, options: dict[str, Any], message: str
) -> None:
    """Redirects on a non-cookie backend, bad redirect URLs and an empty secret raise ConfigurationError."""
    test_app = make_oauth_app(http_db, provider)
    kwargs: dict[str, Any] = {"state_secret": STATE_SECRET, **options}

    with pytest.raises(ConfigurationError, match=message):
        test_app.fastapi_users.get_oauth_router(provider.client(), test_app.backends[backend_name], **kwargs)


def test_associate_router_refuses_an_empty_secret(http_db: SessionMaker, provider: FakeProvider) -> None:
    """The associate router needs a state secret too."""
    test_app = make_oauth_app(http_db, provider)

    with pytest.raises(ConfigurationError):
        test_app.fastapi_users.get_oauth_associate_router(provider.client(), UserReadWithAccounts, "")
