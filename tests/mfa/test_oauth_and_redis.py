"""Two-factor login after an OAuth callback, and login challenges kept in Redis (issue 18)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from fastapi_userkit.db._types import now_utc
from fastapi_userkit.mfa import MFA, ChallengeStore, RedisChallengeStore, SQLAlchemyMFAStore
from fastapi_userkit.mfa.challenge import challenge_digest, new_challenge_token
from fastapi_userkit.mfa.store import MFAStore
from tests.conftest import REDIS_PREFIX, REDIS_URL, SessionMaker, require_service
from tests.mfa.conftest import KEY, Clock, code_at
from tests.mfa.http_support import (
    EMAIL,
    answer,
    bearer_token,
    challenge_token,
    clear_rate_limits,
    enrol,
    mfa_app,
    sql_mfa,
)
from tests.models import RecoveryCode, TOTPFactor
from tests.oauth.flows import STATE_SECRET, https_client, oauth_login
from tests.oauth_provider import FakeProvider
from tests.router.helpers import bearer, client_for, create_user


async def test_an_oauth_login_of_a_user_with_a_factor_asks_for_the_code(http_db: SessionMaker, clock: Clock) -> None:
    """The OAuth callback answers 202 MFA_REQUIRED for a user with a factor; /auth/jwt/mfa completes it."""
    await clear_rate_limits(http_db)
    provider = FakeProvider()
    provider.add_account("alice", account_id="1001", email="alice@example.com")
    test_app = mfa_app(http_db, clock)
    test_app.app.include_router(
        test_app.fastapi_users.get_oauth_router(provider.client(), test_app.backends["jwt"], STATE_SECRET),
        prefix="/auth/fake",
    )
    async with https_client(test_app.app) as client:
        first = await oauth_login(client, provider, "alice")
        headers = bearer(first.json()["access_token"])
        enrolled = await enrol(client, clock, headers)

        challenged = await oauth_login(client, provider, "alice")
        assert challenged.status_code == 202, challenged.text
        assert challenged.json()["detail"] == "MFA_REQUIRED"
        assert "access_token" not in challenged.json()
        clock.advance(30)
        completed = await answer(client, challenged.json()["challenge_token"], code_at(enrolled.secret, clock.now))
        assert completed.status_code == 200, completed.text
        me = await client.get("/users/me", headers=bearer(completed.json()["access_token"]))
        assert me.json()["email"] == "alice@example.com"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the shared Redis; this test's keys are deleted afterwards."""
    require_service("redis")
    client = Redis.from_url(REDIS_URL)
    yield client
    async for key in client.scan_iter(match=f"{REDIS_PREFIX}*"):
        await client.delete(key)
    await client.aclose()


def redis_store(redis: Redis) -> RedisChallengeStore:
    """A store under this run's prefix."""
    return RedisChallengeStore(redis, key_prefix=f"{REDIS_PREFIX}mfa:{uuid.uuid4().hex}:")


async def test_the_redis_store_counts_attempts_and_is_single_use(redis: Redis) -> None:
    """attempt() gives the user id up to the limit, only for the right backend; consume() wins once."""
    store = redis_store(redis)
    digest = challenge_digest(new_challenge_token())
    user_id = uuid.uuid4()
    await store.create(digest, user_id=user_id, backend="jwt", now=now_utc(), lifetime=timedelta(seconds=300))
    assert await store.attempt(digest, backend="cookie", now=now_utc(), max_attempts=2) is None
    assert await store.attempt(digest, backend="jwt", now=now_utc(), max_attempts=2) == str(user_id)
    assert await store.attempt(digest, backend="jwt", now=now_utc(), max_attempts=2) == str(user_id)
    assert await store.attempt(digest, backend="jwt", now=now_utc(), max_attempts=2) is None
    assert await store.consume(digest) is True
    assert await store.consume(digest) is False
    assert await store.attempt("unknown", backend="jwt", now=now_utc(), max_attempts=2) is None


async def test_a_redis_challenge_expires_with_its_key(redis: Redis) -> None:
    """The key carries the challenge's expiry: Redis forgets it after the lifetime."""
    store = redis_store(redis)
    digest = challenge_digest(new_challenge_token())
    await store.create(digest, user_id="7", backend="jwt", now=now_utc(), lifetime=timedelta(seconds=300))
    ttl = await redis.pttl(f"{store.key_prefix}{digest}")
    assert 0 < ttl <= 300_000
    await store.create(
        digest, user_id="7", backend="jwt", now=now_utc() - timedelta(seconds=301), lifetime=timedelta(seconds=300)
    )
    assert await store.attempt(digest, backend="jwt", now=now_utc(), max_attempts=5) is None


async def test_a_login_with_challenges_in_redis(http_db: SessionMaker, redis: Redis) -> None:
    """The HTTP flow with the Redis challenge store: challenge, code, token; the challenge is spent."""
    await clear_rate_limits(http_db)
    clock = Clock(now_utc())  # Redis expires keys on its own clock
    challenges = redis_store(redis)

    async def get_store() -> AsyncIterator[MFAStore]:
        async with http_db() as session:
            yield SQLAlchemyMFAStore(session, TOTPFactor, RecoveryCode)

    async def get_challenges() -> ChallengeStore:
        return challenges

    mfa = MFA(secrets=KEY, get_store=get_store, get_challenge_store=get_challenges, issuer="Camelot", clock=clock)
    test_app = mfa_app(http_db, clock, mfa=mfa)
    await create_user(test_app, EMAIL)
    async with client_for(test_app.app) as client:
        enrolled = await enrol(client, clock, await bearer_token(client))
        token = await challenge_token(client)
        clock.advance(30)
        code = code_at(enrolled.secret, clock.now)
        assert (await answer(client, token, code)).status_code == 200
        assert (await answer(client, token, code)).json() == {"detail": "MFA_CHALLENGE_INVALID"}


@pytest.mark.parametrize("user_id", ["not-an-id", "0b5b4a53-7f2c-4d0e-9d3f-51a1c6e9e001"], ids=["malformed", "unknown"])
async def test_a_challenge_naming_no_user_is_invalid(http_db: SessionMaker, redis: Redis, user_id: str) -> None:
    """A challenge whose user id does not parse, or names nobody, is MFA_CHALLENGE_INVALID, never a 500."""
    await clear_rate_limits(http_db)
    clock = Clock(now_utc())
    challenges = redis_store(redis)

    async def get_challenges() -> ChallengeStore:
        return challenges

    mfa = dataclasses.replace(sql_mfa(http_db, clock), get_challenge_store=get_challenges)
    test_app = mfa_app(http_db, clock, mfa=mfa)
    token = new_challenge_token()
    await challenges.create(
        challenge_digest(token), user_id=user_id, backend="jwt", now=now_utc(), lifetime=timedelta(seconds=60)
    )
    async with client_for(test_app.app) as client:
        response = await answer(client, token, "123456")
    assert (response.status_code, response.json()) == (400, {"detail": "MFA_CHALLENGE_INVALID"})
