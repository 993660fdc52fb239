"""``FastAPIUsers.get_email_login_router`` over HTTP (SQLite and PostgreSQL): the app's own MFA and security apply."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fastapi import Depends

from fastapi_userkit import BaseUserManager
from fastapi_userkit.email_auth import EmailAuthMailer, EmailSignInService, SQLAlchemyEmailSignInStore
from fastapi_userkit.testing import Outbox
from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.email_auth.conftest import LINK_URL, Clock, Log, SignInClient, code_of, link_token
from tests.mfa.conftest import Clock as MFAClock
from tests.mfa.http_support import EMAIL, bearer_token, clear_rate_limits, enrol, mfa_app
from tests.models import EmailSignIn, User
from tests.router.helpers import client_for, create_user


def _mount(test_app: TestApp, client: SignInClient) -> None:
    """Mount ``fastapi_users.get_email_login_router(...)`` on both backends of the documented app."""
    users = test_app.fastapi_users

    async def get_email_sign_in(
        user_manager: BaseUserManager[User, uuid.UUID] = Depends(users.get_user_manager),  # noqa: B008 - as FastAPI
    ) -> AsyncIterator[EmailSignInService[User, uuid.UUID]]:
        async with test_app.session_maker() as session:
            store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
            yield EmailSignInService(store, user_manager, client.settings, client.mailer, clock=client.clock)

    for name, backend in test_app.backends.items():
        test_app.app.include_router(users.get_email_login_router(backend, get_email_sign_in), prefix=f"/auth/{name}")


async def test_the_method_passes_the_app_s_mfa_and_security(
    http_db: SessionMaker, log: Log, mailer: EmailAuthMailer, outbox: Outbox
) -> None:
    """A user with TOTP is challenged after the code; one without signs in; a cross-site cookie completion is 403."""
    mfa_clock = MFAClock(datetime.now(UTC))
    await clear_rate_limits(http_db)
    test_app = mfa_app(http_db, mfa_clock)
    await create_user(test_app, EMAIL)
    await create_user(test_app, "plain@example.com")
    _mount(test_app, SignInClient(http_db, log, mailer, Clock.now_real()))

    async with client_for(test_app.app) as http:
        await enrol(http, mfa_clock, await bearer_token(http))
        requested = await http.post("/auth/jwt/email-login", json={"email": EMAIL})
        challenged = await http.post(
            "/auth/jwt/email-login/code", json={"email": EMAIL, "code": code_of(outbox.last())}
        )
        await http.post("/auth/cookie/email-login", json={"email": "plain@example.com"})
        token = link_token(outbox.last(), LINK_URL)
        cross_site = await http.post(
            "/auth/cookie/email-login/link", json={"token": token}, headers={"Origin": "https://evil.bt"}
        )
        await http.post("/auth/jwt/email-login", json={"email": "plain@example.com"})
        signed_in = await http.post("/auth/jwt/email-login/link", json={"token": link_token(outbox.last(), LINK_URL)})

    assert requested.status_code == 202
    assert (challenged.status_code, challenged.json()["detail"]) == (202, "MFA_REQUIRED"), challenged.text
    assert cross_site.status_code == 403
    assert signed_in.status_code == 200, signed_in.text
    assert "access_token" in signed_in.json()
