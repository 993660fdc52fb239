"""Fixtures of the second-factor tests: a settable clock, a secret box, users and stores on every database."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from fastapi_userkit.mfa import MFAService, SecretBox, SQLAlchemyMFAStore
from fastapi_userkit.mfa.totp import STEP_SECONDS
from tests.conftest import SessionMaker
from tests.models import RecoveryCode, TOTPFactor, User

KEY = "k" * 32
OLD_KEY = "o" * 32
# 2026-01-01 12:00:00 UTC sits exactly on a 30-second step boundary.
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A settable clock."""

    now: datetime = field(default=START)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (backward with a negative value)."""
        self.now += timedelta(seconds=seconds)


def code_at(secret: str, when: datetime) -> str:
    """What an authenticator app shows at ``when`` for ``secret`` (pyotp's own TOTP, as a phone computes it)."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).at(when)


def store_for(session_maker: SessionMaker) -> SQLAlchemyMFAStore[TOTPFactor, RecoveryCode]:
    """A store over a new session of ``session_maker``."""
    return SQLAlchemyMFAStore(session_maker(), TOTPFactor, RecoveryCode)


@pytest.fixture
def clock() -> Clock:
    """A clock at START."""
    return Clock()


@pytest.fixture
def box() -> SecretBox:
    """A secret box with one key."""
    return SecretBox(KEY)


MakeUser = Callable[[], Awaitable[uuid.UUID]]


@pytest.fixture
def make_user(db: SessionMaker) -> MakeUser:
    """Insert a user (on every database, through ``db``) and return its id."""

    async def make() -> uuid.UUID:
        async with db() as session:
            user = User(email=f"{uuid.uuid4().hex}@camelot.bt", hashed_password="x")
            session.add(user)
            await session.commit()
            return user.id

    return make


@pytest.fixture
def service(db: SessionMaker, box: SecretBox, clock: Clock) -> MFAService:
    """A service over a store on every database, with the test clock."""
    return MFAService(store_for(db), box, issuer="Camelot", clock=clock)
