"""Helpers of the OAuth tests: an app with OAuth routers on the fake provider, and the flows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from fastapi_userkit import schemas
from tests.app_factory import TestApp, UserRead, make_app
from tests.conftest import SessionMaker
from tests.models import OAuthAccount
from tests.oauth_provider import FakeProvider

STATE_SECRET = "state-secret-for-the-oauth-tests-0123456789"


class UserReadWithAccounts(UserRead, schemas.BaseOAuthAccountMixin):
    """The app's read schema with the linked accounts (tokens left out by default)."""


class UserReadWithTokens(UserRead, schemas.BaseOAuthAccountWithTokensMixin):
    """A read schema that explicitly opts in to the provider tokens."""


def make_oauth_app(
    session_maker: SessionMaker,
    provider: FakeProvider,
    *,
    associate_by_email: bool = False,
    is_verified_by_default: bool = False,
    requires_verification: bool = False,
    post_login_redirect_urls: Sequence[str] = (),
    user_schema: type[schemas.BaseUser[uuid.UUID]] = UserReadWithAccounts,
) -> TestApp:
    """The documented app plus the fake provider's routers.

    Login over Bearer at ``/auth/fake``, over the cookie backend at ``/auth/fake-cookie``, and
    account linking at ``/auth/associate/fake``.
    """
    test_app = make_app(session_maker, requires_verification=requires_verification)
    client = provider.client()
    fastapi_users = test_app.fastapi_users
    options: dict[str, Any] = {
        "associate_by_email": associate_by_email,
        "is_verified_by_default": is_verified_by_default,
    }
    test_app.app.include_router(
        fastapi_users.get_oauth_router(client, test_app.backends["jwt"], STATE_SECRET, **options),
        prefix="/auth/fake",
    )
    test_app.app.include_router(
        fastapi_users.get_oauth_router(
            client,
            test_app.backends["cookie"],
            STATE_SECRET,
            post_login_redirect_urls=post_login_redirect_urls,
            **options,
        ),
        prefix="/auth/fake-cookie",
    )
    test_app.app.include_router(
        fastapi_users.get_oauth_associate_router(
            client, user_schema, STATE_SECRET, requires_verification=requires_verification
        ),
        prefix="/auth/associate/fake",
    )
    return test_app


@asynccontextmanager
async def https_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` over https, so the default ``Secure`` CSRF cookie travels."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        yield client


async def authorize(
    client: httpx.AsyncClient, prefix: str = "/auth/fake", headers: dict[str, str] | None = None, **params: Any
) -> str:
    """Start a flow; return the provider's authorization URL (the CSRF cookie is now in the jar)."""
    response = await client.get(f"{prefix}/authorize", params=params, headers=headers)
    assert response.status_code == 200, response.text
    url: str = response.json()["authorization_url"]
    return url


async def oauth_login(
    client: httpx.AsyncClient,
    provider: FakeProvider,
    login: str,
    prefix: str = "/auth/fake",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Run authorize -> consent at the provider -> callback; return the callback's answer."""
    callback_url = await provider.consent(await authorize(client, prefix, headers), login)
    return await client.get(callback_url, headers=headers)


async def count_oauth_accounts(test_app: TestApp) -> int:
    """How many rows the OAuth-account table holds."""
    async with test_app.session_maker() as session:
        return int((await session.execute(select(func.count()).select_from(OAuthAccount))).scalar_one())
