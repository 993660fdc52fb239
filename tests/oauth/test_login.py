"""OAuth login (``get_oauth_router``): users created, found, linked by e-mail, refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import update

from fastapi_userkit._oauth_accounts import has_usable_password
from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.models import User
from tests.oauth.flows import authorize, count_oauth_accounts, https_client, make_oauth_app, oauth_login
from tests.oauth_provider import FakeProvider
from tests.router.helpers import PASSWORD, bearer, create_user, fetch_user, parse_set_cookie


async def test_authorize_returns_provider_url_with_state_and_pkce(client: httpx.AsyncClient) -> None:
    """GET /authorize answers the provider URL with a state, an S256 challenge and the scopes asked."""
    response = await client.get("/auth/fake/authorize", params={"scopes": ["openid", "profile"]})

    assert response.status_code == 200
    url = urlsplit(response.json()["authorization_url"])
    params = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert (url.scheme, url.netloc, url.path) == ("https", "provider.test", "/authorize")
    assert params["redirect_uri"] == "https://test/auth/fake/callback"
    assert params["scope"] == "openid profile"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["state"].count(".") == 2


async def test_authorize_sets_the_csrf_cookie(client: httpx.AsyncClient) -> None:
    """The CSRF cookie has FastAPI Users' name and attributes: HttpOnly, Secure, SameSite=lax, one hour."""
    response = await client.get("/auth/fake/authorize")

    name, value, attributes = parse_set_cookie(response.headers["set-cookie"])
    assert name == "fastapiusersoauthcsrf"
    assert len(value) >= 43
    assert attributes["max-age"] == "3600"
    assert attributes["path"] == "/"
    assert attributes["samesite"] == "lax"
    assert "httponly" in attributes
    assert "secure" in attributes


async def test_first_login_creates_a_user_and_logs_in(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """A first login creates an unverified user with the account linked and answers the Bearer token."""
    response = await oauth_login(client, provider, "alice")

    assert response.status_code == 200, response.text
    me = await client.get("/users/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["email"] == "alice@example.com"
    assert me.json()["is_verified"] is False
    user = await fetch_user(test_app, "alice@example.com")
    assert user is not None
    assert [(a.oauth_name, a.account_id) for a in user.oauth_accounts] == [("fake", "1001")]
    assert test_app.hooks.names()[-2:] == ["on_after_register", "on_after_login"]


async def test_oauth_created_user_has_no_usable_password(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """A user created by OAuth gets an unusable password marker that no password login matches."""
    await oauth_login(client, provider, "alice")
    user = await fetch_user(test_app, "alice@example.com")
    assert user is not None

    attempts = [
        await client.post("/auth/jwt/login", data={"username": "alice@example.com", "password": guess})
        for guess in ("password", user.hashed_password, user.hashed_password[1:])
    ]

    assert not has_usable_password(user.hashed_password)
    assert [a.json()["detail"] for a in attempts] == ["LOGIN_BAD_CREDENTIALS"] * 3


async def test_returning_user_logs_in_without_a_second_account(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """A second login finds the same user through the linked account and refreshes its tokens."""
    first = await oauth_login(client, provider, "alice")
    user_before = await fetch_user(test_app, "alice@example.com")
    assert user_before is not None
    token_before = user_before.oauth_accounts[0].access_token

    second = await oauth_login(client, provider, "alice")

    assert (first.status_code, second.status_code) == (200, 200)
    user_after = await fetch_user(test_app, "alice@example.com")
    assert user_after is not None
    assert user_after.id == user_before.id
    assert await count_oauth_accounts(test_app) == 1
    assert user_after.oauth_accounts[0].access_token != token_before
    assert test_app.hooks.names().count("on_after_register") == 1


async def test_existing_email_is_refused_without_associate_by_email(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """An e-mail address that belongs to a user is 400 OAUTH_USER_ALREADY_EXISTS by default."""
    await create_user(test_app, "Alice@Example.com")

    response = await oauth_login(client, provider, "alice")

    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_USER_ALREADY_EXISTS"}
    assert await count_oauth_accounts(test_app) == 0


async def test_associate_by_email_links_the_existing_user(http_db: SessionMaker, provider: FakeProvider) -> None:
    """With associate_by_email, the account is linked to the user with that e-mail, who keeps the password."""
    test_app = make_oauth_app(http_db, provider, associate_by_email=True)
    existing = await create_user(test_app, "alice@example.com")

    async with https_client(test_app.app) as client:
        response = await oauth_login(client, provider, "alice")
        password_login = await client.post(
            "/auth/jwt/login", data={"username": "alice@example.com", "password": PASSWORD}
        )

    assert response.status_code == 200, response.text
    user = await fetch_user(test_app, "alice@example.com")
    assert user is not None
    assert user.id == existing.id
    assert [a.account_id for a in user.oauth_accounts] == ["1001"]
    assert password_login.status_code == 200


async def test_is_verified_by_default_marks_new_users_verified(http_db: SessionMaker, provider: FakeProvider) -> None:
    """With is_verified_by_default, a user created by OAuth is verified."""
    test_app = make_oauth_app(http_db, provider, is_verified_by_default=True)

    async with https_client(test_app.app) as client:
        response = await oauth_login(client, provider, "alice")

    assert response.status_code == 200
    user = await fetch_user(test_app, "alice@example.com")
    assert user is not None
    assert user.is_verified is True


async def test_inactive_user_is_refused(test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """A deactivated user linked to the account gets 400 LOGIN_BAD_CREDENTIALS and no token."""
    await oauth_login(client, provider, "alice")
    async with test_app.session_maker() as session:
        await session.execute(update(User).values(is_active=False))  # alice is the only user
        await session.commit()

    response = await oauth_login(client, provider, "alice")

    assert response.status_code == 400
    assert response.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}


async def test_account_without_email_is_refused(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """A provider account without an e-mail address is 400 OAUTH_NOT_AVAILABLE_EMAIL."""
    response = await oauth_login(client, provider, "anon")

    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_NOT_AVAILABLE_EMAIL"}
    assert await count_oauth_accounts(test_app) == 0


async def test_cookie_backend_sets_the_auth_cookie(client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """Through a cookie backend the callback answers 204 with the auth cookie, which then authenticates."""
    response = await oauth_login(client, provider, "alice", prefix="/auth/fake-cookie")

    assert response.status_code == 204
    cookies = [parse_set_cookie(header) for header in response.headers.get_list("set-cookie")]
    assert {name for name, value, _ in cookies if value} == {"fastapiusersauth"}
    me = await client.get("/users/me")
    assert me.json()["email"] == "alice@example.com"


async def test_callback_clears_the_csrf_cookie(client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """A successful callback deletes the CSRF cookie."""
    response = await oauth_login(client, provider, "alice")

    cookies = [parse_set_cookie(header) for header in response.headers.get_list("set-cookie")]
    assert [(name, value, attrs["max-age"]) for name, value, attrs in cookies] == [("fastapiusersoauthcsrf", "", "0")]
    assert "fastapiusersoauthcsrf" not in client.cookies


async def test_redirect_url_overrides_the_callback_url(http_db: SessionMaker, provider: FakeProvider) -> None:
    """``redirect_url`` is sent as the redirect URI on /authorize and on the code exchange."""
    test_app = make_oauth_app(http_db, provider)
    test_app.app.include_router(
        test_app.fastapi_users.get_oauth_router(
            provider.client(),
            test_app.backends["jwt"],
            "another-state-secret-0123456789abcdef",
            redirect_url="https://test/auth/fake-fixed/callback",
        ),
        prefix="/auth/fake-fixed",
    )

    async with https_client(test_app.app) as client:
        url = await authorize(client, "/auth/fake-fixed")
        response = await client.get(await provider.consent(url, "alice"))

    assert response.status_code == 200, response.text
    assert provider.token_requests[-1]["redirect_uri"] == "https://test/auth/fake-fixed/callback"
