"""The Redis strategy's per-user index stays as small as the user's live tokens (issue 16, item 9)."""

from __future__ import annotations

import uuid

import redis.asyncio

from fastapi_userkit.authentication import RedisStrategy
from fastapi_userkit.authentication.strategy._opaque import digest
from fastapi_userkit.db import SQLAlchemyUserDatabase
from tests.conftest import REDIS_PREFIX, SessionMaker
from tests.models import User

_PREFIX = f"{REDIS_PREFIX}index:"


async def _user(db: SessionMaker) -> User:
    async with db() as session:
        return await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).create(
            {"email": "ector@camelot.bt", "hashed_password": "argon2-hash-stand-in"}
        )


async def _expire(client: redis.asyncio.Redis, token: str) -> None:
    """Let the token's key expire now (an expiry time in the past deletes it, as its TTL would)."""
    assert await client.pexpireat(f"{_PREFIX}{digest(token)}", 1)


async def test_index_drops_expired_tokens_at_each_login(db: SessionMaker, redis_client: redis.asyncio.Redis) -> None:
    """Fifty logins, each after the previous token expired, leave one digest in the index, not fifty."""
    user = await _user(db)
    strategy = RedisStrategy[User, uuid.UUID](redis_client, 60, key_prefix=_PREFIX)
    user_key = f"{_PREFIX}user:{user.id}"

    token = await strategy.write_token(user)
    for _ in range(49):
        await _expire(redis_client, token)
        token = await strategy.write_token(user)

    assert await redis_client.smembers(user_key) == {digest(token)}


async def test_index_keeps_live_tokens_and_logout_all_ends_them(
    db: SessionMaker, redis_client: redis.asyncio.Redis
) -> None:
    """Pruning keeps every live token (with or without a lifetime), so logout-all still ends each of them."""
    user = await _user(db)
    for lifetime in (60, None):
        strategy = RedisStrategy[User, uuid.UUID](redis_client, lifetime, key_prefix=_PREFIX)
        live = [await strategy.write_token(user) for _ in range(3)]
        expired = await strategy.write_token(user)
        await _expire(redis_client, expired)
        newest = await strategy.write_token(user)

        members = await redis_client.smembers(f"{_PREFIX}user:{user.id}")
        assert members == {digest(token) for token in [*live, newest]}

        await strategy.destroy_all_tokens(user)
        assert [key async for key in redis_client.scan_iter(f"{_PREFIX}*")] == []


async def test_bytes_client_prunes_too(db: SessionMaker, redis_client: redis.asyncio.Redis) -> None:
    """A client without decode_responses prunes the same way."""
    user = await _user(db)
    raw_client = redis.asyncio.from_url("redis://127.0.0.1:6379/0")
    strategy = RedisStrategy[User, uuid.UUID](raw_client, 60, key_prefix=_PREFIX)
    first = await strategy.write_token(user)
    await _expire(redis_client, first)

    second = await strategy.write_token(user)

    assert await redis_client.smembers(f"{_PREFIX}user:{user.id}") == {digest(second)}
    await raw_client.aclose()
