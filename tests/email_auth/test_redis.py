"""RedisEmailSignInStore against the real Redis, behind the service (users on SQLite)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.email_auth import (
    EmailAuthMailer,
    EmailCodeAttemptsExhausted,
    EmailCodeInvalid,
    EmailLinkExpired,
    EmailLinkInvalid,
    EmailLinkUsed,
    EmailSignInRecord,
    EmailSignInStore,
    RedisEmailSignInStore,
)
from fastapi_userkit.testing import Outbox
from tests.conftest import REDIS_PREFIX, REDIS_URL, SessionMaker, make_engine, require_service, reset_schema
from tests.email_auth.conftest import LINK_URL, START, Clock, Log, SignInClient, code_of, link_token
from tests.models import Base, User


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the shared Redis; this test's keys are deleted afterwards."""
    require_service("redis")
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis: Redis) -> AsyncIterator[RedisEmailSignInStore]:
    """A store under a prefix of this test's own, emptied afterwards."""
    prefix = f"{REDIS_PREFIX}{{email}}:{uuid.uuid4().hex}:"
    yield RedisEmailSignInStore(redis, key_prefix=prefix)
    async for key in redis.scan_iter(match=f"{prefix}*"):
        await redis.delete(key)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[SessionMaker]:
    """Users on a fresh SQLite file (the store under test is Redis)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'users.db'}")
    await reset_schema(engine, Base.metadata)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
def client(
    sqlite_db: SessionMaker, store: RedisEmailSignInStore, log: Log, mailer: EmailAuthMailer, clock: Clock
) -> SignInClient:
    """A sign-in client whose pending sign-ins live in Redis."""
    return SignInClient(sqlite_db, log, mailer, clock, store=store)


async def _user(db: SessionMaker, email: str) -> User:
    async with db() as session:
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = SQLAlchemyUserDatabase(session, User)
        return await user_db.create({"email": email, "hashed_password": "x"})


def test_the_redis_store_satisfies_the_protocol(store: RedisEmailSignInStore) -> None:
    """RedisEmailSignInStore is an EmailSignInStore."""
    assert isinstance(store, EmailSignInStore)


async def test_link_then_code_through_redis(client: SignInClient, sqlite_db: SessionMaker, outbox: Outbox) -> None:
    """The link signs in once (the user id read back as text is parsed); the code is dead after it."""
    user = await _user(sqlite_db, "kay@camelot.bt")
    await client.request(user.email)
    token, code = link_token(outbox.last(), LINK_URL), code_of(outbox.last())

    result = await client.complete_by_link(token)

    assert result.user.id == user.id
    with pytest.raises(EmailLinkUsed):
        await client.complete_by_link(token)
    with pytest.raises(EmailCodeInvalid):
        await client.complete_by_code(user.email, code)
    assert await client.delete_expired() == 0


async def test_code_attempts_are_capped_and_concurrent_tries_never_pass_it(
    client: SignInClient, sqlite_db: SessionMaker, outbox: Outbox
) -> None:
    """Eight simultaneous wrong codes: five are judged, three find no attempt left; the right code is then refused."""
    user = await _user(sqlite_db, "kay@camelot.bt")
    await client.request(user.email)
    code = code_of(outbox.last())
    wrong = "222222" if code != "222222" else "333333"

    async def attempt() -> str:
        try:
            await client.complete_by_code(user.email, wrong)
        except (EmailCodeInvalid, EmailCodeAttemptsExhausted) as exc:
            return exc.code
        raise AssertionError("a wrong code was accepted")  # pragma: no cover

    outcomes = await asyncio.gather(*(attempt() for _ in range(8)))

    assert outcomes.count(EmailCodeInvalid.code) == 5
    with pytest.raises(EmailCodeAttemptsExhausted):
        await client.complete_by_code(user.email, code)


async def test_a_new_request_orphans_the_old_link(
    client: SignInClient, sqlite_db: SessionMaker, outbox: Outbox
) -> None:
    """After a second request the first link finds nothing; the second link works; expiry follows the clock."""
    user = await _user(sqlite_db, "kay@camelot.bt")
    await client.request(user.email)
    old = link_token(outbox.last(), LINK_URL)
    await client.request(user.email)
    new = link_token(outbox.last(), LINK_URL)

    with pytest.raises(EmailLinkInvalid):
        await client.complete_by_link(old)
    client.clock.advance(minutes=10)
    with pytest.raises(EmailLinkExpired):
        await client.complete_by_link(new)


async def test_concurrent_consumes_succeed_once(store: RedisEmailSignInStore) -> None:
    """Of simultaneous consumes of one sign-in exactly one wins; none after its expiry; unknown keys find nothing."""
    record = EmailSignInRecord(
        id=uuid.uuid4(),
        user_id=None,
        email="x@camelot.bt",
        email_key="key",
        sign_up=True,
        link_digest="link",
        code_digest="code",
        created_at=START,
        expires_at=START + timedelta(minutes=10),
    )
    await store.begin(record)

    outcomes = await asyncio.gather(*(store.consume(record, now=START) for _ in range(8)))
    stored = await store.find_by_email("key")
    other = EmailSignInRecord(**{**record.__dict__, "id": uuid.uuid4(), "email_key": "other", "link_digest": "l2"})
    await store.begin(other)

    assert outcomes.count(True) == 1
    assert stored is not None
    assert (stored.sign_up, stored.user_id, stored.used_at) == (True, None, START)
    assert not await store.consume(other, now=other.expires_at)
    assert await store.find_by_link(["nope"]) is None
    assert await store.find_by_email("nope") is None
    assert await store.redis.pttl(f"{store.key_prefix}email:key") > 0
