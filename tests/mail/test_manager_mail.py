"""The manager's default hooks send the account e-mails through its ``mailer`` (HTTP, SQLite and PostgreSQL).

The app here keeps the library's default hooks (``tests.app_factory`` overrides every hook to
record it, which is what an application that sends its own mail does).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncGenerator
from email.message import EmailMessage
from typing import cast

import httpx
from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.mail import AccountMailer, MailDeliveryError, OutboxMailer
from tests.app_factory import SECRET, UserCreate, UserRead, UserUpdate, fast_password_helper
from tests.conftest import SessionMaker
from tests.models import User

PASSWORD = "correct-horse-battery-staple-42"
NEW_PASSWORD = "another-long-passphrase-for-camelot"
EMAIL = "king.arthur@camelot.bt"


class DownMailer:
    """A backend whose server is unreachable."""

    async def send(self, message: EmailMessage) -> None:
        """Always fail."""
        raise MailDeliveryError("connection refused")


def build_app(session_maker: SessionMaker, account_mailer: AccountMailer | None, *, override: bool = False) -> FastAPI:
    """The documented app with a UserManager that keeps the default hooks (or overrides the reset one)."""

    class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
        reset_password_token_secret = SECRET
        verification_token_secret = SECRET
        mailer = account_mailer

    class OverridingUserManager(UserManager):
        async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
            """The app sends its own reset e-mail (and does not call super())."""

    manager_class = OverridingUserManager if override else UserManager

    async def get_session() -> AsyncGenerator[AsyncSession, None]:
        async with session_maker() as session:
            yield session

    async def get_user_manager(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
    ) -> AsyncGenerator[UserManager, None]:
        yield manager_class(SQLAlchemyUserDatabase(session, User), fast_password_helper())

    backend = AuthenticationBackend[User, uuid.UUID](
        "jwt", BearerTransport("auth/jwt/login"), lambda: JWTStrategy(SECRET, 3600)
    )
    fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [backend])
    app = FastAPI()
    app.include_router(fastapi_users.get_auth_router(backend), prefix="/auth/jwt")
    app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth")
    app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth")
    app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth")
    app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users")
    return app


def account_mailer(outbox: OutboxMailer, *, notify_new_login: bool = False) -> AccountMailer:
    """An AccountMailer into ``outbox`` with both links."""
    return AccountMailer(
        outbox,
        sender="no-reply@camelot.bt",
        verify_url="https://app.camelot.bt/verify?token={token}",
        reset_url="https://app.camelot.bt/reset?token={token}",
        app_name="Camelot",
        notify_new_login=notify_new_login,
    )


def token_from(message: EmailMessage) -> str:
    """The token in the message's link."""
    body = cast(EmailMessage, message.get_body(preferencelist=("plain",)))
    found = re.search(r"token=([A-Za-z0-9._~%-]+)", cast(str, body.get_content()))
    assert found is not None
    return found.group(1)


async def register(client: httpx.AsyncClient) -> None:
    """Register the test user."""
    response = await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 201


def client_for(app: FastAPI) -> httpx.AsyncClient:
    """An HTTP client on the app."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_forgot_and_reset_password_send_the_link_then_the_notice(http_db: SessionMaker) -> None:
    """forgot-password e-mails a working reset link; the reset e-mails a "password changed" notice."""
    outbox = OutboxMailer()
    async with client_for(build_app(http_db, account_mailer(outbox))) as client:
        await register(client)

        forgot = await client.post("/auth/forgot-password", json={"email": EMAIL})
        reset = await client.post(
            "/auth/reset-password", json={"token": token_from(outbox.messages[0]), "password": NEW_PASSWORD}
        )
        login = await client.post("/auth/jwt/login", data={"username": EMAIL, "password": NEW_PASSWORD})

    assert (forgot.status_code, reset.status_code, login.status_code) == (202, 200, 200)
    assert [m["Subject"] for m in outbox.messages] == [
        "Reset your Camelot password",
        "Your Camelot password was changed",
    ]
    assert all(m["To"] == EMAIL for m in outbox.messages)


async def test_request_verify_sends_a_working_verification_link(http_db: SessionMaker) -> None:
    """request-verify-token e-mails a link whose token verifies the user."""
    outbox = OutboxMailer()
    async with client_for(build_app(http_db, account_mailer(outbox))) as client:
        await register(client)

        requested = await client.post("/auth/request-verify-token", json={"email": EMAIL})
        verified = await client.post("/auth/verify", json={"token": token_from(outbox.messages[0])})

    assert requested.status_code == 202
    assert verified.status_code == 200
    assert verified.json()["is_verified"] is True


async def test_changing_the_password_sends_a_notice_and_other_updates_do_not(http_db: SessionMaker) -> None:
    """PATCH /users/me with a password e-mails the notice; without one, nothing is sent."""
    outbox = OutboxMailer()
    async with client_for(build_app(http_db, account_mailer(outbox))) as client:
        await register(client)
        login = await client.post("/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        renamed = await client.patch("/users/me", json={"first_name": "Arthur"}, headers=headers)
        changed = await client.patch("/users/me", json={"password": NEW_PASSWORD}, headers=headers)

    assert (renamed.status_code, changed.status_code) == (200, 200)
    assert [m["Subject"] for m in outbox.messages] == ["Your Camelot password was changed"]


async def test_login_notice_is_sent_only_when_enabled(http_db: SessionMaker) -> None:
    """With notify_new_login, each login e-mails a notice naming the client's User-Agent."""
    quiet, noisy = OutboxMailer(), OutboxMailer()
    for outbox, notify in ((quiet, False), (noisy, True)):
        async with client_for(build_app(http_db, account_mailer(outbox, notify_new_login=notify))) as client:
            if notify is False:
                await register(client)
            response = await client.post(
                "/auth/jwt/login",
                data={"username": EMAIL, "password": PASSWORD},
                headers={"User-Agent": "TestBrowser/1.0"},
            )
            assert response.status_code == 200

    assert quiet.messages == []
    assert [m["Subject"] for m in noisy.messages] == ["New sign-in to your Camelot account"]
    assert "TestBrowser/1.0" in str(noisy.messages[0])


async def test_an_overridden_hook_replaces_the_mail(http_db: SessionMaker) -> None:
    """A subclass that overrides on_after_forgot_password without super() sends no reset e-mail."""
    outbox = OutboxMailer()
    async with client_for(build_app(http_db, account_mailer(outbox), override=True)) as client:
        await register(client)

        response = await client.post("/auth/forgot-password", json={"email": EMAIL})

    assert response.status_code == 202
    assert outbox.messages == []


async def test_mail_server_down_still_answers_202(http_db: SessionMaker) -> None:
    """A delivery failure during forgot-password is logged, and the answer stays 202 (no enumeration)."""
    mailer = AccountMailer(DownMailer(), sender="no-reply@camelot.bt", reset_url="https://a.example/r?t={token}")
    async with client_for(build_app(http_db, mailer)) as client:
        await register(client)

        known = await client.post("/auth/forgot-password", json={"email": EMAIL})
        unknown = await client.post("/auth/forgot-password", json={"email": "nobody@camelot.bt"})

    assert (known.status_code, unknown.status_code) == (202, 202)


def test_without_a_mailer_the_hooks_are_fastapi_users_no_ops() -> None:
    """BaseUserManager has no mailer by default, so its hooks do nothing, as in FastAPI Users."""
    assert BaseUserManager.mailer is None
