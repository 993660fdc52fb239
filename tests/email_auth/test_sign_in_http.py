"""E-mail sign-in over HTTP, beyond test_routes: the attempt cap, the pre-registration takeover, and SMTP end to end.

* The code's attempt cap answers through the error table (with the rate limits off, so the
  e-mail's own cap is what answers; with them on, the login throttle answers 429 first).
* Someone registers an address they do not own with a password they know; the owner's first
  e-mail sign-in makes that password unusable and ends the registrant's sessions (issue 20).
* A sign-in e-mail goes through a real SMTP server (aiosmtpd) and its code signs in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends

from fastapi_userkit import BaseUserManager
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.email_auth import EmailAuthMailer, EmailSignInService, SQLAlchemyEmailSignInStore
from fastapi_userkit.mail import AccountMailer, SMTPMailer
from fastapi_userkit.router.email_login import get_email_login_router
from fastapi_userkit.security import SecuritySettings
from fastapi_userkit.testing import Outbox
from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker
from tests.email_auth.conftest import LINK_URL, Clock, Log, SignInClient, code_of
from tests.email_auth.test_change_routes import _backends
from tests.email_auth.test_routes import build_app
from tests.mail.conftest import plain_smtp_server
from tests.mfa.http_support import clear_rate_limits
from tests.models import EmailSignIn, User
from tests.router.helpers import bearer, client_for, create_user

OWNER = "guinevere@camelot.bt"
SQUATTER_PASSWORD = "mordred-knows-this-1"


def _mount(test_app: TestApp, client: SignInClient, security: SecuritySettings | None = None) -> None:
    """Mount the e-mail sign-in router of every backend of the documented app under its auth prefix."""
    get_user_manager = test_app.fastapi_users.get_user_manager

    async def get_email_sign_in(
        user_manager: BaseUserManager[User, uuid.UUID] = Depends(get_user_manager),  # noqa: B008 - a local dependency
    ) -> AsyncIterator[EmailSignInService[User, uuid.UUID]]:
        async with test_app.session_maker() as session:
            store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
            yield EmailSignInService(store, user_manager, client.settings, client.mailer, clock=client.clock)

    for name, backend in test_app.backends.items():
        router = get_email_login_router(backend, get_user_manager, get_email_sign_in, security=security)
        test_app.app.include_router(router, prefix=f"/auth/{name}")


@pytest.mark.parametrize("rate_limited", [False, True])
async def test_wrong_codes_hit_the_cap_over_http(
    http_db: SessionMaker, log: Log, mailer: EmailAuthMailer, outbox: Outbox, rate_limited: bool
) -> None:
    """Five wrong codes, then the right one is refused: the e-mail's cap (400), or the login throttle first (429)."""
    await clear_rate_limits(http_db)
    security = SecuritySettings() if rate_limited else SecuritySettings(rate_limit=None)
    test_app = make_app(http_db, security=security)
    await create_user(test_app, OWNER, is_verified=True)
    _mount(test_app, SignInClient(http_db, log, mailer, Clock.now_real()), security)

    async with client_for(test_app.app) as http:
        await http.post("/auth/jwt/email-login", json={"email": OWNER})
        code = code_of(outbox.last())
        wrong = "222222" if code != "222222" else "333333"
        tries = [await http.post("/auth/jwt/email-login/code", json={"email": OWNER, "code": wrong}) for _ in range(5)]
        right = await http.post("/auth/jwt/email-login/code", json={"email": OWNER, "code": code})

    assert [response.json() for response in tries[:4]] == [{"detail": "EMAIL_CODE_INVALID"}] * 4
    if rate_limited:
        assert right.status_code == 429
        assert "retry-after" in right.headers
    else:
        assert tries[4].json() == {"detail": "EMAIL_CODE_INVALID"}
        assert (right.status_code, right.json()) == (400, {"detail": "EMAIL_CODE_ATTEMPTS_EXHAUSTED"})


async def test_the_owner_s_first_e_mail_sign_in_locks_the_squatter_out(
    http_db: SessionMaker, log: Log, mailer: EmailAuthMailer, outbox: Outbox
) -> None:
    """The registrant of an unverified address loses its password and its JWT and database tokens."""
    await clear_rate_limits(http_db)
    test_app = make_app(http_db, backends_factory=_backends)
    _mount(test_app, SignInClient(http_db, log, mailer, Clock.now_real()))

    async with client_for(test_app.app) as http:
        registered = await http.post("/auth/register", json={"email": OWNER, "password": SQUATTER_PASSWORD})
        form = {"username": OWNER, "password": SQUATTER_PASSWORD}
        squatter_jwt = bearer((await http.post("/auth/jwt/login", data=form)).json()["access_token"])
        squatter_db = bearer((await http.post("/auth/db/login", data=form)).json()["access_token"])
        before = await http.get("/users/me", headers=squatter_db)

        await http.post("/auth/jwt/email-login", json={"email": OWNER})
        owner = await http.post("/auth/jwt/email-login/code", json={"email": OWNER, "code": code_of(outbox.last())})
        owner_me = await http.get("/users/me", headers=bearer(owner.json()["access_token"]))
        squatter_after = [
            await http.get("/users/me", headers=squatter_jwt),
            await http.get("/users/me", headers=squatter_db),
        ]
        squatter_login = await http.post("/auth/jwt/login", data=form)

    assert registered.status_code == 201, registered.text
    assert (before.status_code, before.json()["is_verified"]) == (200, False)
    assert owner.status_code == 200, owner.text
    assert (owner_me.json()["email"], owner_me.json()["is_verified"]) == (OWNER, True)
    assert [response.status_code for response in squatter_after] == [401, 401]
    assert (squatter_login.status_code, squatter_login.json()) == (400, {"detail": "LOGIN_BAD_CREDENTIALS"})


async def test_a_sign_in_e_mail_through_smtp_signs_in_with_its_code(http_db: SessionMaker, log: Log) -> None:
    """The e-mail crosses a real SMTP server with the link in both parts; the code read from it signs in, once."""
    with plain_smtp_server() as server:
        smtp = SMTPMailer("127.0.0.1", server.port, security="none")
        mailer = EmailAuthMailer(AccountMailer(smtp, sender="Camelot <noreply@camelot.bt>", app_name="Camelot"))
        app = build_app(http_db, SignInClient(http_db, log, mailer, Clock.now_real()))
        async with http_db() as session:
            await SQLAlchemyUserDatabase(session, User).create({"email": OWNER, "hashed_password": "x"})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://camelot.bt") as http:
            requested = await http.post("/auth/email-login", json={"email": OWNER})
            assert len(server.received) == 1
            received = server.received[0]
            text_part = received.message.get_body(preferencelist=("plain",))
            html_part = received.message.get_body(preferencelist=("html",))
            assert text_part is not None
            assert html_part is not None
            text = text_part.get_content()
            code = re.search(r"enter this code in the app:\s+(?P<code>\S+)", text)
            assert code is not None, text
            signed_in = await http.post("/auth/email-login/code", json={"email": OWNER, "code": code["code"]})
            again = await http.post("/auth/email-login/code", json={"email": OWNER, "code": code["code"]})

    assert requested.status_code == 202
    assert received.recipients == [OWNER]
    assert received.message["Subject"]
    assert code["code"] not in received.message["Subject"]
    token = LINK_URL.split("{token}")[0]
    assert token in text
    assert token in html_part.get_content()
    assert signed_in.status_code == 200, signed_in.text
    assert "access_token" in signed_in.json()
    assert (again.status_code, again.json()) == (400, {"detail": "EMAIL_CODE_INVALID"})
