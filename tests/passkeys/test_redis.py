"""The Redis challenge store: single use across connections, expiry by Redis, digests only; a full ceremony on it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import redis.asyncio

from fastapi_userkit.passkeys import (
    ChallengeRecord,
    PasskeyChallengeInvalid,
    PasskeyChallengeStore,
    PasskeyService,
    PasskeySettings,
    RedisPasskeyChallengeStore,
    challenge_digest,
)
from tests.conftest import REDIS_PREFIX, REDIS_URL, SessionMaker
from tests.passkeys.authenticator import SoftAuthenticator, unb64u
from tests.passkeys.conftest import ORIGIN, START, Clock, MakeUser, credential_store

PREFIX = f"{REDIS_PREFIX}passkey:"


def _store(client: redis.asyncio.Redis) -> RedisPasskeyChallengeStore:
    return RedisPasskeyChallengeStore(client, key_prefix=PREFIX)


def test_the_store_satisfies_the_protocol(redis_client: redis.asyncio.Redis) -> None:
    """RedisPasskeyChallengeStore is a PasskeyChallengeStore."""
    assert isinstance(_store(redis_client), PasskeyChallengeStore)


async def test_a_challenge_is_taken_once_and_expires_with_its_lifetime(redis_client: redis.asyncio.Redis) -> None:
    """take() returns the record once; the key carries the challenge's remaining lifetime as its TTL."""
    store = _store(redis_client)
    record = ChallengeRecord("registration", "user|with|bars", START + timedelta(seconds=300))
    await store.put("digest", record, now=START)

    ttl = await redis_client.ttl(PREFIX + "digest")
    first = await store.take("digest")
    second = await store.take("digest")

    assert 295 <= ttl <= 300
    assert (first, second) == (record, None)


async def test_a_usernameless_challenge_round_trips(redis_client: redis.asyncio.Redis) -> None:
    """A challenge without a user comes back without one; a past expiry still gets a 1-second key."""
    store = _store(redis_client)
    record = ChallengeRecord("authentication", None, START)
    await store.put("digest", record, now=START + timedelta(seconds=5))

    assert await store.take("digest") == record


async def test_concurrent_takes_have_one_winner(redis_client: redis.asyncio.Redis) -> None:
    """Ten concurrent takes over ten connections: exactly one gets the challenge."""
    await _store(redis_client).put("digest", ChallengeRecord("registration", "1", START), now=START)
    clients = [redis.asyncio.from_url(REDIS_URL) for _ in range(10)]  # bytes replies, the other decoding

    results = await asyncio.gather(*(_store(client).take("digest") for client in clients))

    assert sum(result is not None for result in results) == 1
    for client in clients:
        await client.aclose()


async def test_a_foreign_value_under_the_prefix_is_no_challenge(redis_client: redis.asyncio.Redis) -> None:
    """A key under the prefix that put() did not write is not taken for a challenge."""
    await redis_client.set(PREFIX + "digest", "something|else|2026-01-01T00:00:00+00:00")

    assert await _store(redis_client).take("digest") is None


async def test_a_ceremony_with_challenges_in_redis(
    db: SessionMaker, redis_client: redis.asyncio.Redis, clock: Clock, make_user: MakeUser
) -> None:
    """Register and sign in with challenges in Redis: only digests are stored, and a replay is refused."""
    settings = PasskeySettings(rp_id="camelot.test", rp_name="Camelot", origins=(ORIGIN,))
    service = PasskeyService(settings, credential_store(db), _store(redis_client), clock=clock)
    authenticator = SoftAuthenticator(ORIGIN)
    user_id = await make_user()
    options = await service.registration_options(user_id, user_name="arthur")
    await service.verify_registration(user_id, authenticator.create(options))
    sign_in = await service.authentication_options()

    keys = [key async for key in redis_client.scan_iter(f"{PREFIX}*")]
    values = [await redis_client.get(key) for key in keys]
    response = authenticator.get(sign_in)
    signed_in = await service.verify_authentication(response)

    assert keys == [PREFIX + challenge_digest(unb64u(sign_in["challenge"]))]
    assert sign_in["challenge"] not in repr(values)
    assert signed_in.user_id == user_id
    with pytest.raises(PasskeyChallengeInvalid):
        await service.verify_authentication(response)
