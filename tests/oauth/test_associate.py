"""Account linking (``get_oauth_associate_router``) and unlinking (``DELETE /accounts/{account_id}``)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import update

from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.models import User
from tests.oauth.flows import (
    UserReadWithTokens,
    authorize,
    count_oauth_accounts,
    https_client,
    make_oauth_app,
    oauth_login,
)
from tests.oauth_provider import FakeProvider
from tests.router.helpers import bearer, create_user, fetch_user, login

ASSOCIATE = "/auth/associate/fake"


async def _password_user(
    test_app: TestApp, client: httpx.AsyncClient, email: str = "user@example.com"
) -> dict[str, str]:
    """Create a user with a password, log in, and return the Authorization header."""
    await create_user(test_app, email)
    return bearer(await login(client, email))


async def _oauth_user(client: httpx.AsyncClient, provider: FakeProvider, login_name: str = "alice") -> dict[str, str]:
    """Create a user through OAuth login and return the Authorization header."""
    response = await oauth_login(client, provider, login_name)
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def test_associate_links_the_account(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """The callback links the provider account to the current user and answers the user, tokens left out."""
    headers = await _password_user(test_app, client)

    response = await oauth_login(client, provider, "alice", prefix=ASSOCIATE, headers=headers)

    assert response.status_code == 200, response.text
    accounts = response.json()["oauth_accounts"]
    assert [(a["oauth_name"], a["account_id"], a["account_email"]) for a in accounts] == [
        ("fake", "1001", "alice@example.com")
    ]
    assert "access_token" not in accounts[0]
    assert "refresh_token" not in accounts[0]
    assert test_app.hooks.last("on_after_update")["update_dict"] == {}


async def test_tokens_are_served_only_to_schemas_that_opt_in(http_db: SessionMaker, provider: FakeProvider) -> None:
    """A read schema built on BaseOAuthAccountWithTokensMixin does serialise the provider tokens."""
    test_app = make_oauth_app(http_db, provider, user_schema=UserReadWithTokens)
    async with https_client(test_app.app) as client:
        headers = await _password_user(test_app, client)

        response = await oauth_login(client, provider, "alice", prefix=ASSOCIATE, headers=headers)

    account = response.json()["oauth_accounts"][0]
    user = await fetch_user(test_app, "user@example.com")
    assert user is not None
    assert account["access_token"] == user.oauth_accounts[0].access_token
    assert account["refresh_token"] == user.oauth_accounts[0].refresh_token


async def test_reassociating_the_same_account_updates_it(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """Linking an account already linked to this user refreshes it instead of adding a row."""
    headers = await _password_user(test_app, client)
    await oauth_login(client, provider, "alice", prefix=ASSOCIATE, headers=headers)

    again = await oauth_login(client, provider, "alice", prefix=ASSOCIATE, headers=headers)

    assert again.status_code == 200
    assert len(again.json()["oauth_accounts"]) == 1
    assert await count_oauth_accounts(test_app) == 1


async def test_account_of_another_user_is_refused(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """An account linked to someone else is 400 OAUTH_ACCOUNT_ALREADY_LINKED and stays theirs."""
    await _oauth_user(client, provider, "alice")
    headers = await _password_user(test_app, client)

    response = await oauth_login(client, provider, "alice", prefix=ASSOCIATE, headers=headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_ACCOUNT_ALREADY_LINKED"}
    owner = await fetch_user(test_app, "alice@example.com")
    assert owner is not None
    assert [a.account_id for a in owner.oauth_accounts] == ["1001"]
    assert await count_oauth_accounts(test_app) == 1


async def test_associate_needs_a_logged_in_user(client: httpx.AsyncClient) -> None:
    """Without a token, /authorize, /callback and unlink are 401."""
    responses = [
        await client.get(f"{ASSOCIATE}/authorize"),
        await client.get(f"{ASSOCIATE}/callback", params={"code": "c", "state": "s"}),
        await client.delete(f"{ASSOCIATE}/accounts/1001"),
    ]

    assert [r.status_code for r in responses] == [401, 401, 401]


async def test_associate_requires_verification_when_asked(http_db: SessionMaker, provider: FakeProvider) -> None:
    """With requires_verification, an unverified user is 403 on every associate route."""
    test_app = make_oauth_app(http_db, provider, requires_verification=True)
    await create_user(test_app, "user@example.com", is_verified=True)
    async with https_client(test_app.app) as client:
        headers = bearer(await login(client))
        allowed = await client.get(f"{ASSOCIATE}/authorize", headers=headers)
        async with test_app.session_maker() as session:
            await session.execute(update(User).values(is_verified=False))
            await session.commit()
        refused = [
            await client.get(f"{ASSOCIATE}/authorize", headers=headers),
            await client.get(f"{ASSOCIATE}/callback", params={"code": "c", "state": "s"}, headers=headers),
            await client.delete(f"{ASSOCIATE}/accounts/1001", headers=headers),
        ]

    assert allowed.status_code == 200
    assert [r.status_code for r in refused] == [403, 403, 403]


async def test_state_of_another_user_is_refused(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """A flow started by one user cannot be completed by another one in the same browser."""
    first = await _password_user(test_app, client, "first@example.com")
    second = await _password_user(test_app, client, "second@example.com")
    callback_url = await provider.consent(await authorize(client, ASSOCIATE, first), "alice")

    response = await client.get(callback_url, headers=second)

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad Request"}
    assert provider.token_requests == []


async def test_associate_without_email_is_refused(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """A provider account without an e-mail address is 400 OAUTH_NOT_AVAILABLE_EMAIL."""
    headers = await _password_user(test_app, client)

    response = await oauth_login(client, provider, "anon", prefix=ASSOCIATE, headers=headers)

    assert response.json() == {"detail": "OAUTH_NOT_AVAILABLE_EMAIL"}


async def test_associate_bad_state_is_400(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """The associate callback checks its state like the login one."""
    headers = await _password_user(test_app, client)
    await authorize(client, ASSOCIATE, headers)

    response = await client.get(f"{ASSOCIATE}/callback", params={"code": "c", "state": "x"}, headers=headers)

    assert response.json() == {"detail": "ACCESS_TOKEN_DECODE_ERROR"}


async def test_unlink_removes_the_account(test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """DELETE /accounts/{account_id} unlinks the account of a user with a password and answers the user."""
    headers = await _password_user(test_app, client)
    await oauth_login(client, provider, "alice", prefix=ASSOCIATE, headers=headers)

    response = await client.delete(f"{ASSOCIATE}/accounts/1001", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["oauth_accounts"] == []
    assert await count_oauth_accounts(test_app) == 0
    assert test_app.hooks.last("on_after_update")["update_dict"] == {}


async def test_unlink_of_an_unlinked_account_is_404(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """Unlinking an account the user does not have (someone else's included) is 404 OAUTH_ACCOUNT_NOT_LINKED."""
    await _oauth_user(client, provider, "alice")
    headers = await _password_user(test_app, client)

    response = await client.delete(f"{ASSOCIATE}/accounts/1001", headers=headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "OAUTH_ACCOUNT_NOT_LINKED"}
    assert await count_oauth_accounts(test_app) == 1


async def test_last_login_method_is_kept(test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """A user created by OAuth cannot unlink their only account: 400 OAUTH_LAST_LOGIN_METHOD."""
    headers = await _oauth_user(client, provider)

    response = await client.delete(f"{ASSOCIATE}/accounts/1001", headers=headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_LAST_LOGIN_METHOD"}
    assert await count_oauth_accounts(test_app) == 1


async def test_oauth_user_with_two_accounts_keeps_one(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """A user without a password may unlink accounts down to one, not further."""
    headers = await _oauth_user(client, provider, "alice")
    await oauth_login(client, provider, "bob", prefix=ASSOCIATE, headers=headers)

    first = await client.delete(f"{ASSOCIATE}/accounts/1001", headers=headers)
    second = await client.delete(f"{ASSOCIATE}/accounts/1002", headers=headers)

    assert first.status_code == 200
    assert [a["account_id"] for a in first.json()["oauth_accounts"]] == ["1002"]
    assert second.json() == {"detail": "OAUTH_LAST_LOGIN_METHOD"}


async def test_concurrent_unlinks_keep_one_account(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """Two simultaneous unlinks of a password-less user's last two accounts: one wins, one is refused."""
    headers = await _oauth_user(client, provider, "alice")
    await oauth_login(client, provider, "bob", prefix=ASSOCIATE, headers=headers)

    responses = await asyncio.gather(
        client.delete(f"{ASSOCIATE}/accounts/1001", headers=headers),
        client.delete(f"{ASSOCIATE}/accounts/1002", headers=headers),
    )

    assert sorted(r.status_code for r in responses) == [200, 400]
    assert await count_oauth_accounts(test_app) == 1


async def test_setting_a_password_allows_unlinking_the_last_account(
    test_app: TestApp, client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """Once an OAuth-created user sets a password, they can unlink their last account and log in with it."""
    headers = await _oauth_user(client, provider)
    await client.patch("/users/me", json={"password": "a brand new passphrase"}, headers=headers)
    headers = bearer(await login(client, "alice@example.com", "a brand new passphrase"))

    response = await client.delete(f"{ASSOCIATE}/accounts/1001", headers=headers)

    assert response.status_code == 200
    assert await count_oauth_accounts(test_app) == 0


async def test_associate_router_without_prefix_leaves_other_deletes_alone(
    http_db: SessionMaker, provider: FakeProvider
) -> None:
    """Included without a prefix, the associate router claims no DELETE the app registers after it."""
    test_app = make_oauth_app(http_db, provider)
    app = test_app.app
    app.include_router(
        test_app.fastapi_users.get_oauth_associate_router(provider.client(), UserReadWithTokens, "s" * 32)
    )

    @app.delete("/items/{item_id}")
    async def app_route(item_id: str) -> dict[str, str]:
        return {"owner": "app", "item": item_id}

    async with https_client(app) as client:
        response = await client.delete("/items/42")

    assert response.status_code == 200, response.text
    assert response.json() == {"owner": "app", "item": "42"}
