"""Builds the test app with the pages mounted, and reads forms the way a browser fills them."""

from __future__ import annotations

import email
import email.policy
import html
import re
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import httpx
from fastapi import FastAPI

from fastapi_userkit import BaseUserManager, FastAPIUsers, IntegerIDMixin
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, CookieTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.sessions import RefreshSettings
from tests.app_factory import SECRET, BackendsFactory, SessionDependency, TestApp, fast_password_helper, make_app
from tests.conftest import SessionMaker
from tests.models import IntOAuthAccount, IntRefreshToken, IntUser, IntUserSession, RefreshToken, User, UserSession

PAGES_SECRET = "pages-secret-for-signing-form-tokens-0123456789"
PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_MAIL_SEPARATOR = "\n" + "-" * 72 + "\n"
_SUBJECT = re.compile(r"^Subject: ", re.MULTILINE)


def printed_mails(output: str) -> list[EmailMessage]:
    """The e-mails a ``ConsoleMailer`` printed into ``output`` (other lines in between are skipped)."""
    found: list[EmailMessage] = []
    for chunk in output.split(_MAIL_SEPARATOR):
        # Each printed message starts with its Subject header; a server's log lines may precede it.
        start = _SUBJECT.search(chunk)
        if start is not None:
            message = email.message_from_string(chunk[start.start() :], policy=email.policy.default)
            if isinstance(message, EmailMessage):
                found.append(message)
    return found


def mailed_links(messages: list[EmailMessage], to: str, url: str) -> list[str]:
    """The links starting with ``url`` (and a ``?token=``) in the plain-text bodies of the mails to ``to``."""
    pattern = re.compile(re.escape(url) + r"\?token=[A-Za-z0-9._%-]+")
    links: list[str] = []
    for message in messages:
        body = message.get_body(preferencelist=("plain",))
        if to in str(message["To"]) and body is not None:
            links.extend(pattern.findall(str(body.get_content())))
    return links


def mount_pages(test_app: TestApp, backend: str = "cookie", **options: Any) -> TestApp:
    """Mount the pages of ``test_app``'s ``backend`` at ``/account``."""
    cookie_backend: AuthenticationBackend[User, uuid.UUID] = test_app.backends[backend]
    router = test_app.fastapi_users.get_pages_router(cookie_backend, secret=PAGES_SECRET, **options)
    test_app.app.include_router(router, prefix="/account")
    return test_app


def pages_backends(session_maker: SessionMaker) -> BackendsFactory:
    """The documented JWT backends, the cookie one with refresh on (the pages need it to end sessions)."""
    refresh = RefreshSettings(store=SQLAlchemySessionStore(session_maker, UserSession, RefreshToken), secret=SECRET)

    def build(_get_session: SessionDependency) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
        def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
            return JWTStrategy(SECRET, 3600)

        return {
            "jwt": AuthenticationBackend("jwt", BearerTransport("auth/jwt/login"), get_jwt_strategy),
            "cookie": AuthenticationBackend(
                "cookie", CookieTransport(cookie_secure=False), get_jwt_strategy, refresh=refresh
            ),
        }

    return build


def pages_app(
    session_maker: SessionMaker,
    *,
    requires_verification: bool = False,
    app_options: dict[str, Any] | None = None,
    **options: Any,
) -> TestApp:
    """The documented test app (``make_app(**app_options)``, refresh on the cookie backend), pages at ``/account``."""
    app_options = {"backends_factory": pages_backends(session_maker), **(app_options or {})}
    test_app = make_app(session_maker, requires_verification=requires_verification, **app_options)
    return mount_pages(test_app, requires_verification=requires_verification, **options)


def int_id_app(session_maker: SessionMaker) -> FastAPI:
    """A minimal integer-id app: the ``IntUser`` model, a JWT cookie backend and the pages."""

    class IntUserManager(IntegerIDMixin, BaseUserManager[IntUser, int]):
        reset_password_token_secret = SECRET
        verification_token_secret = SECRET

    async def get_user_manager() -> AsyncIterator[IntUserManager]:
        async with session_maker() as session:
            yield IntUserManager(SQLAlchemyUserDatabase(session, IntUser, IntOAuthAccount), fast_password_helper())

    def get_strategy() -> JWTStrategy[IntUser, int]:
        return JWTStrategy(SECRET, 3600)

    refresh = RefreshSettings(
        store=SQLAlchemySessionStore(session_maker, IntUserSession, IntRefreshToken), secret=SECRET
    )
    backend = AuthenticationBackend[IntUser, int](
        "cookie", CookieTransport(cookie_secure=False), get_strategy, refresh=refresh
    )
    fastapi_users = FastAPIUsers[IntUser, int](get_user_manager, [backend])
    app = FastAPI()
    app.include_router(fastapi_users.get_auth_router(backend), prefix="/auth/cookie")
    app.include_router(fastapi_users.get_pages_router(backend, secret=PAGES_SECRET), prefix="/account")
    return app


def client_for(app: TestApp | FastAPI) -> httpx.AsyncClient:
    """An httpx client for the app that keeps cookies like a browser."""
    asgi = app.app if isinstance(app, TestApp) else app
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test")


def form_token(page: httpx.Response) -> str:
    """The CSRF token of the first form of ``page``."""
    match = _TOKEN.search(page.text)
    assert match is not None, page.text
    return html.unescape(match.group(1))


async def submit(
    client: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str], **headers: str
) -> httpx.Response:
    """Open ``page_path``, then post ``data`` to ``action`` with the page's token, as a same-origin form."""
    page = await client.get(page_path)
    return await client.post(
        action, data={"csrf_token": form_token(page), **data}, headers={"origin": "http://test", **headers}
    )


async def sign_up_and_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Create an account through the sign-up page, then sign in through the sign-in page."""
    created = await submit(client, "/account/sign-up", "/account/sign-up", {"email": email, "password": password})
    assert created.status_code == 303, created.text
    return await submit(client, "/account/sign-in", "/account/sign-in", {"email": email, "password": password})


__all__ = [
    "PAGES_SECRET",
    "PASSWORD",
    "SECRET",
    "client_for",
    "form_token",
    "int_id_app",
    "mailed_links",
    "mount_pages",
    "pages_app",
    "pages_backends",
    "printed_mails",
    "sign_up_and_in",
    "submit",
]
