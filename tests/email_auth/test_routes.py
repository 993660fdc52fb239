"""The e-mail sign-in routes over HTTP (SQLite and PostgreSQL): same 202 for every address, POST-only completion."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit import BaseUserManager
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.email_auth import EmailAuthMailer, EmailSignInService, SQLAlchemyEmailSignInStore
from fastapi_userkit.mfa import MFA
from fastapi_userkit.router.email_login import get_email_login_router
from fastapi_userkit.testing import Outbox
from tests.app_factory import SECRET, TestApp, make_app
from tests.conftest import SessionMaker
from tests.email_auth.conftest import LINK_URL, Clock, Log, RecordingManager, SignInClient, code_of, link_token
from tests.mfa.conftest import Clock as MFAClock
from tests.mfa.conftest import code_at
from tests.mfa.http_support import EMAIL, answer, bearer_token, clear_rate_limits, enrol, mfa_app, sql_mfa
from tests.models import EmailSignIn, User
from tests.router.helpers import client_for, create_user


def build_app(db: SessionMaker, client: SignInClient) -> FastAPI:
    """An app with a bearer JWT backend and the e-mail sign-in router under /auth."""

    async def get_session() -> AsyncGenerator[AsyncSession, None]:
        async with db() as session:
            yield session

    async def get_user_manager(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - a local dependency: no string annotation
    ) -> RecordingManager:
        return RecordingManager(SQLAlchemyUserDatabase(session, User), client.log)

    async def get_email_sign_in(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - as above
        user_manager: RecordingManager = Depends(get_user_manager),  # noqa: B008 - as above
    ) -> EmailSignInService[User, uuid.UUID]:
        store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
        return EmailSignInService(store, user_manager, client.settings, client.mailer, clock=client.clock)

    def get_strategy() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, lifetime_seconds=3600)

    backend = AuthenticationBackend("jwt", BearerTransport("auth/login"), get_strategy)
    app = FastAPI()
    app.include_router(get_email_login_router(backend, get_user_manager, get_email_sign_in), prefix="/auth")
    return app


@pytest.fixture
async def http(http_db: SessionMaker, log: Log, mailer: EmailAuthMailer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app on SQLite and PostgreSQL."""
    client = SignInClient(http_db, log, mailer, Clock.now_real())
    app = build_app(http_db, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://camelot.bt") as http:
        yield http


async def _user(db: SessionMaker, email: str) -> None:
    async with db() as session:
        await SQLAlchemyUserDatabase(session, User).create({"email": email, "hashed_password": "x"})


async def test_the_request_answers_202_alike_and_mails_only_known_addresses(
    http: httpx.AsyncClient, http_db: SessionMaker, outbox: Outbox
) -> None:
    """Known and unknown addresses get the same 202, body and headers; only the known one gets an e-mail."""
    await _user(http_db, "known@camelot.bt")

    known = await http.post("/auth/email-login", json={"email": "known@camelot.bt"})
    unknown = await http.post("/auth/email-login", json={"email": "nobody@camelot.bt"})

    assert known.status_code == unknown.status_code == 202, known.text
    assert known.content == unknown.content
    assert known.headers.keys() == unknown.headers.keys()
    assert [message.to for message in outbox.messages] == ["known@camelot.bt"]


async def test_a_get_spends_nothing_and_the_post_signs_in_once(
    http: httpx.AsyncClient, http_db: SessionMaker, outbox: Outbox
) -> None:
    """GET on the completion route is refused and leaves the link alive (T35); the POST signs in once."""
    await _user(http_db, "known@camelot.bt")
    await http.post("/auth/email-login", json={"email": "known@camelot.bt"})
    token = link_token(outbox.last(), LINK_URL)

    scanned = await http.get("/auth/email-login/link", params={"token": token})
    signed_in = await http.post("/auth/email-login/link", json={"token": token})
    again = await http.post("/auth/email-login/link", json={"token": token})

    assert scanned.status_code == 405
    assert signed_in.status_code == 200
    assert signed_in.json()["token_type"] == "bearer"
    assert (again.status_code, again.json()) == (400, {"detail": "EMAIL_LINK_USED"})


async def test_the_code_signs_in_and_wrong_codes_answer_through_the_table(
    http: httpx.AsyncClient, http_db: SessionMaker, outbox: Outbox
) -> None:
    """A wrong code is a 400 EMAIL_CODE_INVALID; the right one signs in; the link is dead after it."""
    await _user(http_db, "known@camelot.bt")
    await http.post("/auth/email-login", json={"email": "known@camelot.bt"})
    code, token = code_of(outbox.last()), link_token(outbox.last(), LINK_URL)
    wrong = "222222" if code != "222222" else "333333"

    refused = await http.post("/auth/email-login/code", json={"email": "known@camelot.bt", "code": wrong})
    signed_in = await http.post("/auth/email-login/code", json={"email": "known@camelot.bt", "code": code})
    link = await http.post("/auth/email-login/link", json={"token": token})

    assert (refused.status_code, refused.json()) == (400, {"detail": "EMAIL_CODE_INVALID"})
    assert signed_in.status_code == 200
    assert "access_token" in signed_in.json()
    assert (link.status_code, link.json()) == (400, {"detail": "EMAIL_LINK_USED"})


def _mount(test_app: TestApp, client: SignInClient, backend: str, mfa: MFA | None = None) -> None:
    """Mount the e-mail sign-in router of ``backend`` on the documented app, under its auth prefix."""
    get_user_manager = test_app.fastapi_users.get_user_manager

    async def get_email_sign_in(
        user_manager: BaseUserManager[User, uuid.UUID] = Depends(get_user_manager),  # noqa: B008 - a local dependency
    ) -> AsyncIterator[EmailSignInService[User, uuid.UUID]]:
        async with test_app.session_maker() as session:
            store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
            yield EmailSignInService(store, user_manager, client.settings, client.mailer, clock=client.clock)

    router = get_email_login_router(test_app.backends[backend], get_user_manager, get_email_sign_in, mfa=mfa)
    test_app.app.include_router(router, prefix=f"/auth/{backend}")


async def test_a_user_with_a_second_factor_is_challenged_after_the_link(
    http_db: SessionMaker, log: Log, mailer: EmailAuthMailer, outbox: Outbox
) -> None:
    """The e-mail is one factor: a user with TOTP gets the 202 challenge, and the TOTP code completes the sign-in."""
    mfa_clock = MFAClock(datetime.now(UTC))
    mfa = sql_mfa(http_db, mfa_clock)
    await clear_rate_limits(http_db)
    test_app = mfa_app(http_db, mfa_clock, mfa=mfa)
    await create_user(test_app, EMAIL)
    _mount(test_app, SignInClient(http_db, log, mailer, Clock.now_real()), "jwt", mfa)

    async with client_for(test_app.app) as http:
        enrolled = await enrol(http, mfa_clock, await bearer_token(http))
        await http.post("/auth/jwt/email-login", json={"email": EMAIL})
        challenged = await http.post("/auth/jwt/email-login/link", json={"token": link_token(outbox.last(), LINK_URL)})
        mfa_clock.advance(30)
        completed = await answer(http, challenged.json()["challenge_token"], code_at(enrolled.secret, mfa_clock.now))

    assert challenged.status_code == 202
    assert challenged.json()["detail"] == "MFA_REQUIRED"
    assert "access_token" not in challenged.json()
    assert completed.status_code == 200, completed.text
    assert "access_token" in completed.json()


async def test_a_cookie_backend_checks_the_origin_and_sets_its_cookies(
    http_db: SessionMaker, log: Log, mailer: EmailAuthMailer, outbox: Outbox
) -> None:
    """Over a cookie backend, a cross-site completion is refused (login CSRF); a same-site one gets the cookies."""
    await clear_rate_limits(http_db)
    test_app = make_app(http_db)
    await create_user(test_app, EMAIL)
    _mount(test_app, SignInClient(http_db, log, mailer, Clock.now_real()), "cookie")

    async with client_for(test_app.app) as http:
        await http.post("/auth/cookie/email-login", json={"email": EMAIL})
        code, token = code_of(outbox.last()), link_token(outbox.last(), LINK_URL)
        body = {"email": EMAIL, "code": code}
        evil = {"Origin": "https://evil.bt"}
        cross_link = await http.post("/auth/cookie/email-login/link", json={"token": token}, headers=evil)
        cross_site = await http.post("/auth/cookie/email-login/code", json=body, headers=evil)
        same_site = await http.post("/auth/cookie/email-login/code", json=body, headers={"Origin": "http://test"})

    assert cross_link.status_code == cross_site.status_code == 403
    assert same_site.status_code == 204, same_site.text
    assert same_site.cookies


async def test_the_openapi_schema_lists_the_table_s_answers(
    http_db: SessionMaker, log: Log, mailer: EmailAuthMailer
) -> None:
    """The completions document their 400 codes from the error table; the request documents its 202."""
    schema = build_app(http_db, SignInClient(http_db, log, mailer, Clock.now_real())).openapi()
    paths = schema["paths"]
    link_400 = str(paths["/auth/email-login/link"]["post"]["responses"]["400"])

    assert "202" in paths["/auth/email-login"]["post"]["responses"]
    assert all(code in link_400 for code in ("EMAIL_LINK_USED", "EMAIL_LINK_EXPIRED", "EMAIL_CODE_INVALID"))
    assert "get" not in paths["/auth/email-login/link"]
