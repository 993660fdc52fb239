"""Fixtures of the passkey tests: a settable clock, settings, users, stores on every database, an authenticator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio

from fastapi_userkit.passkeys import (
    PasskeyEvent,
    PasskeyService,
    PasskeySettings,
    SQLAlchemyPasskeyChallengeStore,
    SQLAlchemyPasskeyStore,
)
from tests.conftest import REDIS_PREFIX, REDIS_URL, SessionMaker, require_service
from tests.models import Passkey, PasskeyChallenge, User
from tests.passkeys.authenticator import SoftAuthenticator

RP_ID = "camelot.test"
ORIGIN = "https://camelot.test"
OTHER_ORIGIN = "https://app.camelot.test"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A settable clock."""

    now: datetime = field(default=START)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


@dataclass
class Events:
    """Collects the service's events."""

    seen: list[PasskeyEvent] = field(default_factory=list)

    async def __call__(self, event: PasskeyEvent) -> None:
        self.seen.append(event)


def credential_store(db: SessionMaker) -> SQLAlchemyPasskeyStore[Passkey]:
    """A passkey store over a new session of ``db``."""
    return SQLAlchemyPasskeyStore(db(), Passkey)


def challenge_store(db: SessionMaker) -> SQLAlchemyPasskeyChallengeStore[PasskeyChallenge]:
    """A challenge store over a new session of ``db``."""
    return SQLAlchemyPasskeyChallengeStore(db(), PasskeyChallenge)


@pytest.fixture
def clock() -> Clock:
    """A clock at START."""
    return Clock()


@pytest.fixture
def events() -> Events:
    """An event sink."""
    return Events()


@pytest.fixture
def settings() -> PasskeySettings:
    """Settings of an RP served on two origins, user verification required."""
    return PasskeySettings(rp_id=RP_ID, rp_name="Camelot", origins=(ORIGIN, OTHER_ORIGIN))


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
def service(db: SessionMaker, settings: PasskeySettings, clock: Clock, events: Events) -> PasskeyService:
    """A service over SQL stores on every database, with the test clock and event sink."""
    return PasskeyService(settings, credential_store(db), challenge_store(db), clock=clock, on_event=events)


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    """A software authenticator on the RP's main origin, verifying the user."""
    return SoftAuthenticator(origin=ORIGIN)


@pytest.fixture
async def redis_client() -> AsyncIterator[redis.asyncio.Redis]:
    """A Redis client (a missing Redis skips, or fails when services are required); this run's keys go at the end."""
    require_service("redis")
    client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
    yield client
    keys = [key async for key in client.scan_iter(f"{REDIS_PREFIX}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
