"""Fixtures of the e-mail sign-in and e-mail change tests: a settable clock, the test kit's outbox,
a user manager that records its events and hooks, and services over stores on every database."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit import BaseUserManager, UUIDIDMixin
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.email_auth import (
    Defer,
    EmailAuthMailer,
    EmailChangePending,
    EmailChangeReverted,
    EmailChangeService,
    EmailChangeSettings,
    EmailSignInResult,
    EmailSignInService,
    EmailSignInSettings,
    EmailSignInStore,
    SQLAlchemyEmailChangeStore,
    SQLAlchemyEmailSignInStore,
)
from fastapi_userkit.mail import AccountMailer
from fastapi_userkit.security.events import SecurityEvent
from fastapi_userkit.testing import CapturedEmail, Outbox
from tests.app_factory import SECRET, fast_password_helper
from tests.conftest import SessionMaker
from tests.models import EmailChange, EmailSignIn, User

KEY = "e" * 32
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LINK_URL = "https://camelot.bt/email-login?token={token}"
CONFIRM_URL = "https://camelot.bt/email-change/confirm?token={token}"
REVERT_URL = "https://camelot.bt/email-change/revert?token={token}"
_CODE = re.compile(r"enter this code in the app:\s+(?P<code>\S+)")


@dataclass
class Clock:
    """A settable clock."""

    now: datetime = field(default=START)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a ``timedelta``'s arguments."""
        self.now += timedelta(**delta)

    @classmethod
    def now_real(cls) -> Clock:
        """A clock set to the real time (JWTs issued over HTTP are checked against the real clock)."""
        return cls(datetime.now(UTC))


@dataclass
class Log:
    """The security events and hooks of every manager of a test."""

    events: list[SecurityEvent] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)


class RecordingManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """A user manager that keeps its security events and the hooks it ran in a shared log."""

    reset_password_token_secret = SECRET
    verification_token_secret = SECRET

    def __init__(self, user_db: SQLAlchemyUserDatabase[User, uuid.UUID], log: Log) -> None:
        super().__init__(user_db, fast_password_helper())
        self.log = log

    async def on_security_event(self, event: SecurityEvent) -> None:
        """Keep the event."""
        self.log.events.append(event)

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        """Record the hook."""
        self.log.hooks.append("register")

    async def on_after_verify(self, user: User, request: Request | None = None) -> None:
        """Record the hook."""
        self.log.hooks.append("verify")

    async def on_after_update(self, user: User, update_dict: dict[str, Any], request: Request | None = None) -> None:
        """Record the hook."""
        self.log.hooks.append(f"update:{','.join(sorted(update_dict))}")


class SignInClient:
    """Calls an EmailSignInService the way requests do: a new session for each call, closed after it."""

    def __init__(
        self,
        db: SessionMaker,
        log: Log,
        mailer: EmailAuthMailer,
        clock: Clock,
        *,
        store: EmailSignInStore | None = None,
        **overrides: Any,
    ) -> None:
        self.db, self.log, self.mailer, self.clock, self.store = db, log, mailer, clock, store
        self.settings = EmailSignInSettings(**{"secret": KEY, "link_url": LINK_URL, "enabled": True, **overrides})

    def service(self, session: AsyncSession) -> EmailSignInService[User, uuid.UUID]:
        """The service over ``session`` (and the given store, or a SQL store on the same session)."""
        manager = RecordingManager(SQLAlchemyUserDatabase(session, User), self.log)
        store = self.store if self.store is not None else SQLAlchemyEmailSignInStore(session, EmailSignIn)
        return EmailSignInService(store, manager, self.settings, self.mailer, clock=self.clock)

    async def request(self, email: str, *, defer: Defer | None = None) -> None:
        """``request`` in a session of its own."""
        async with self.db() as session:
            await self.service(session).request(email, defer=defer)

    async def complete_by_link(self, token: str) -> EmailSignInResult[User]:
        """``complete_by_link`` in a session of its own."""
        async with self.db() as session:
            return await self.service(session).complete_by_link(token)

    async def complete_by_code(self, email: str, code: str) -> EmailSignInResult[User]:
        """``complete_by_code`` in a session of its own."""
        async with self.db() as session:
            return await self.service(session).complete_by_code(email, code)

    async def delete_expired(self) -> int:
        """The store's housekeeping at the clock's time."""
        async with self.db() as session:
            return await self.service(session).store.delete_expired(now=self.clock())


class ChangeClient:
    """Calls an EmailChangeService the way requests do: a new session for each call, closed after it."""

    def __init__(self, db: SessionMaker, log: Log, mailer: EmailAuthMailer, clock: Clock) -> None:
        self.db, self.log, self.mailer, self.clock = db, log, mailer, clock
        self.settings = EmailChangeSettings(secret=KEY, confirm_url=CONFIRM_URL, revert_url=REVERT_URL)

    def service(self, session: AsyncSession) -> EmailChangeService[User, uuid.UUID]:
        """The service over ``session``."""
        manager = RecordingManager(SQLAlchemyUserDatabase(session, User), self.log)
        store = SQLAlchemyEmailChangeStore(session, EmailChange)
        return EmailChangeService(store, manager, self.settings, self.mailer, clock=self.clock)

    async def request_change(self, user: User, new_email: str) -> None:
        """``request_change`` in a session of its own."""
        async with self.db() as session:
            await self.service(session).request_change(user, new_email)

    async def confirm(self, token: str) -> User:
        """``confirm`` in a session of its own."""
        async with self.db() as session:
            return await self.service(session).confirm(token)

    async def revert(self, token: str) -> EmailChangeReverted[User]:
        """``revert`` in a session of its own."""
        async with self.db() as session:
            return await self.service(session).revert(token)

    async def pending(self, user: User) -> EmailChangePending | None:
        """``pending`` in a session of its own."""
        async with self.db() as session:
            return await self.service(session).pending(user)


def link_token(message: CapturedEmail, template: str) -> str:
    """The token of the link built from ``template`` in ``message``."""
    before, _, after = template.partition("{token}")
    for link in message.links:
        if link.startswith(before) and link.endswith(after):
            return link[len(before) : len(link) - len(after)]
    raise AssertionError(f"No {before} link in {message.links}")


def code_of(message: CapturedEmail) -> str:
    """The sign-in code in a sign-in e-mail's text."""
    found = _CODE.search(message.text)
    assert found is not None, message.text
    return found["code"]


@pytest.fixture
def clock() -> Clock:
    """A clock at START."""
    return Clock()


@pytest.fixture
def outbox() -> Outbox:
    """The test kit's outbox: every message sent, parsed."""
    return Outbox()


@pytest.fixture
def mailer(outbox: Outbox) -> EmailAuthMailer:
    """The e-mails of the package, through an account mailer writing to the outbox."""
    return EmailAuthMailer(AccountMailer(outbox.mailer, sender="Camelot <noreply@camelot.bt>", app_name="Camelot"))


@pytest.fixture
def log() -> Log:
    """The events and hooks of the test's managers."""
    return Log()


MakeUser = Callable[..., Awaitable[User]]
UpdateUser = Callable[[User, dict[str, Any]], Awaitable[User]]


@pytest.fixture
def make_user(db: SessionMaker) -> MakeUser:
    """Insert a user on every database and return it."""

    async def make(email: str | None = None, *, is_active: bool = True, is_verified: bool = True) -> User:
        async with db() as session:
            return await SQLAlchemyUserDatabase(session, User).create(
                {
                    "email": email or f"{uuid.uuid4().hex[:12]}@camelot.bt",
                    "hashed_password": "x",
                    "is_active": is_active,
                    "is_verified": is_verified,
                }
            )

    return make


@pytest.fixture
def update_user(db: SessionMaker) -> UpdateUser:
    """Change a user's columns behind the services' back (an admin, another flow)."""

    async def update(user: User, values: dict[str, Any]) -> User:
        async with db() as session:
            user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = SQLAlchemyUserDatabase(session, User)
            found = await user_db.get(user.id)
            assert found is not None
            return await user_db.update(found, values)

    return update


async def read_user(db: SessionMaker, user: User) -> User:
    """The user's row as stored now."""
    async with db() as session:
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = SQLAlchemyUserDatabase(session, User)
        found = await user_db.get(user.id)
        assert found is not None
        return found


SignInFactory = Callable[..., SignInClient]


@pytest.fixture
def sign_in(db: SessionMaker, log: Log, mailer: EmailAuthMailer, clock: Clock) -> SignInFactory:
    """Build a sign-in client on every database; settings overridable by keyword."""

    def build(**overrides: Any) -> SignInClient:
        return SignInClient(db, log, mailer, clock, **overrides)

    return build


@pytest.fixture
def change(db: SessionMaker, log: Log, mailer: EmailAuthMailer, clock: Clock) -> ChangeClient:
    """An e-mail change client on every database."""
    return ChangeClient(db, log, mailer, clock)
