"""The e-mail sign-in routes over HTTP (SQLite and PostgreSQL): same 202 for every address, POST-only completion."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.email_auth import EmailAuthMailer, EmailSignInService, SQLAlchemyEmailSignInStore
from fastapi_userkit.router.email_login import get_email_login_router
from fastapi_userkit.testing import Outbox
from tests.app_factory import SECRET
from tests.conftest import SessionMaker
from tests.email_auth.conftest import LINK_URL, Clock, Log, RecordingManager, SignInClient, code_of, link_token
from tests.models import EmailSignIn, User


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
