"""What the strategies store: digests only, expiry, per-user indexes, purges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
import redis.asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit import BaseUserManager
from fastapi_userkit.authentication import DatabaseStrategy, JWTStrategy, RedisStrategy
from fastapi_userkit.authentication.strategy import StrategyDestroyNotSupportedError
from fastapi_userkit.authentication.strategy._opaque import digest
from fastapi_userkit.authentication.strategy.jwt import JWTStrategyDestroyNotSupportedError
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.db.revoked_token import SQLAlchemyRevokedTokenDatabase
from fastapi_userkit.exceptions import ConfigurationError
from tests.app_factory import SECRET, HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import REDIS_PREFIX, SessionMaker
from tests.models import AccessToken, RevokedToken, User
from tests.strategies.apps import Harness, Session


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _user(db: SessionMaker, email: str = "ector@camelot.bt") -> User:
    async with db() as session:
        return await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).create(
            {"email": email, "hashed_password": "argon2-hash-stand-in"}
        )


def _manager(session: AsyncSession) -> BaseUserManager[User, uuid.UUID]:
    return make_user_manager_class(HookLog())(SQLAlchemyUserDatabase(session, User), fast_password_helper())


async def test_database_rows_hold_digests_that_cannot_be_replayed(database_tokens: Harness) -> None:
    """The token column holds the token's SHA-256 digest; sending it as a token gets 401."""
    await database_tokens.register("lucan@camelot.bt")
    session = await database_tokens.login("bearer", "lucan@camelot.bt")
    async with database_tokens.test_app.session_maker() as db_session:
        stored = [row.token for row in (await db_session.execute(select(AccessToken))).scalars()]

    assert stored == [digest(session.token)]
    assert len(stored[0]) == 43
    assert await database_tokens.me_status(session) == 200
    assert await database_tokens.me_status(Session("bearer", stored[0])) == 401


async def test_redis_keys_hold_digests_that_cannot_be_replayed(
    redis_tokens: Harness, redis_client: redis.asyncio.Redis
) -> None:
    """Redis keys are named by the token's digest; sending the digest as a token gets 401."""
    await redis_tokens.register("lucan@camelot.bt")
    session = await redis_tokens.login("bearer", "lucan@camelot.bt")
    keys = [key async for key in redis_client.scan_iter(f"{REDIS_PREFIX}token:*") if ":user:" not in key]

    assert keys == [f"{REDIS_PREFIX}token:{digest(session.token)}"]
    assert session.token not in str(keys)
    assert await redis_tokens.me_status(session) == 200
    assert await redis_tokens.me_status(Session("bearer", digest(session.token))) == 401


async def test_database_token_expires_with_the_clock(db: SessionMaker) -> None:
    """A database token is valid until its lifetime passes, then unknown; purge deletes it."""
    user = await _user(db)
    clock = Clock()
    async with db() as session:
        strategy = DatabaseStrategy[User, uuid.UUID, AccessToken](
            SQLAlchemyAccessTokenDatabase(session, AccessToken), 60, clock=clock
        )
        manager = _manager(session)
        token = await strategy.write_token(user)

        clock.now += timedelta(seconds=59)
        assert await strategy.read_token(token, manager) is not None
        clock.now += timedelta(seconds=2)
        assert await strategy.read_token(token, manager) is None

        assert await strategy.purge_expired() == 1
        assert (await session.execute(select(AccessToken))).scalars().all() == []


async def test_jwt_expires_with_an_injected_clock(db: SessionMaker) -> None:
    """With an injected clock, a JWT's exp and iat are checked against that clock, not the real time.

    A token issued after the clock moved ahead (its iat in the real future) is accepted, and a
    token dies when the clock passes its lifetime although the real time has not.
    """
    user = await _user(db)
    clock = Clock()
    async with db() as session:
        strategy = JWTStrategy[User, uuid.UUID](SECRET, 60, clock=clock)
        manager = _manager(session)

        clock.now += timedelta(hours=1)
        token = await strategy.write_token(user)
        assert await strategy.read_token(token, manager) is not None  # read again: from the cache
        clock.now += timedelta(seconds=59)
        assert await strategy.read_token(token, manager) is not None
        clock.now += timedelta(seconds=2)
        assert await strategy.read_token(token, manager) is None


async def test_database_strategy_without_lifetime(db: SessionMaker) -> None:
    """Without a lifetime nothing expires and purge deletes nothing; 0 is refused."""
    user = await _user(db)
    async with db() as session:
        strategy = DatabaseStrategy[User, uuid.UUID, AccessToken](SQLAlchemyAccessTokenDatabase(session, AccessToken))
        token = await strategy.write_token(user)

        assert await strategy.read_token(token, _manager(session)) is not None
        assert await strategy.purge_expired() == 0
    with pytest.raises(ConfigurationError):
        DatabaseStrategy(SQLAlchemyAccessTokenDatabase(session, AccessToken), 0)


async def test_database_strategy_needs_delete_capable_storage(db: SessionMaker) -> None:
    """An access-token store without delete_by_user/delete_expired says so instead of failing silently."""

    class MinimalStore:
        async def get_by_token(self, token: str, max_age: datetime | None = None) -> None:
            return None

    strategy = DatabaseStrategy[User, uuid.UUID, AccessToken](MinimalStore(), 60)  # type: ignore[arg-type]  # deliberately incomplete store
    user = await _user(db)

    with pytest.raises(StrategyDestroyNotSupportedError):
        await strategy.destroy_all_tokens(user)
    with pytest.raises(StrategyDestroyNotSupportedError):
        await strategy.purge_expired()


async def test_redis_keys_carry_ttl_and_a_per_user_index(db: SessionMaker, redis_client: redis.asyncio.Redis) -> None:
    """Redis token keys expire with the token and the user's set lists their digests."""
    user = await _user(db)
    strategy = RedisStrategy[User, uuid.UUID](redis_client, 120, key_prefix=f"{REDIS_PREFIX}t:")
    first = await strategy.write_token(user)
    second = await strategy.write_token(user)

    user_key = f"{REDIS_PREFIX}t:user:{user.id}"
    assert await redis_client.smembers(user_key) == {digest(first), digest(second)}
    assert 0 < await redis_client.ttl(f"{REDIS_PREFIX}t:{digest(first)}") <= 120
    assert 0 < await redis_client.ttl(user_key) <= 120

    await strategy.destroy_token(first, user)
    assert await redis_client.smembers(user_key) == {digest(second)}
    await strategy.destroy_all_tokens(user)
    assert await redis_client.exists(user_key, f"{REDIS_PREFIX}t:{digest(second)}") == 0
    await strategy.destroy_all_tokens(user)  # nothing left: a no-op


async def test_redis_without_lifetime_keeps_keys(db: SessionMaker, redis_client: redis.asyncio.Redis) -> None:
    """Without a lifetime the keys have no TTL; bytes clients work too; 0 is refused."""
    user = await _user(db)
    raw_client = redis.asyncio.from_url("redis://127.0.0.1:6379/0")
    strategy = RedisStrategy[User, uuid.UUID](raw_client, key_prefix=f"{REDIS_PREFIX}n:")
    token = await strategy.write_token(user)

    assert await redis_client.ttl(f"{REDIS_PREFIX}n:{digest(token)}") == -1
    async with db() as session:
        assert (await strategy.read_token(token, _manager(session))) is not None
    await strategy.destroy_all_tokens(user)
    await raw_client.aclose()
    with pytest.raises(ConfigurationError):
        RedisStrategy(redis_client, 0)


async def test_redis_token_of_deleted_or_unparsable_user(db: SessionMaker, redis_client: redis.asyncio.Redis) -> None:
    """A Redis token whose user is gone, or whose stored id is garbage, reads as no user."""
    user = await _user(db)
    strategy = RedisStrategy[User, uuid.UUID](redis_client, 60, key_prefix=f"{REDIS_PREFIX}g:")
    token = await strategy.write_token(user)
    await redis_client.set(f"{REDIS_PREFIX}g:{digest('garbage')}", "not-a-uuid")

    async with db() as session:
        manager = _manager(session)
        assert await strategy.read_token("garbage", manager) is None
        assert await strategy.read_token(None, manager) is None
        await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).delete(await session.get_one(User, user.id))
        assert await strategy.read_token(token, manager) is None


async def test_jwt_revocation_table(db: SessionMaker) -> None:
    """With a revoked-token table, one JWT or all of a user's JWTs can be ended; rows expire."""
    user = await _user(db)
    clock = Clock()
    async with db() as session:
        revoked = SQLAlchemyRevokedTokenDatabase(session, RevokedToken)
        strategy = JWTStrategy[User, uuid.UUID](SECRET, 60, revoked_tokens=revoked, clock=clock)
        manager = _manager(session)
        first, second = await strategy.write_token(user), await strategy.write_token(user)

        await strategy.destroy_token(first, user)
        assert await strategy.read_token(first, manager) is None
        assert await strategy.read_token(second, manager) is not None

        clock.now += timedelta(seconds=1)
        await strategy.destroy_all_tokens(user)
        assert await strategy.read_token(second, manager) is None
        clock.now += timedelta(seconds=1)
        later = await strategy.write_token(user)
        assert await strategy.read_token(later, manager) is not None

        await strategy.destroy_all_tokens(user)  # the cut-off moves forward (upsert)
        assert await strategy.read_token(later, manager) is None
        purged = await revoked.delete_expired(datetime.now(UTC) + timedelta(hours=1))
        assert purged == 2


async def test_jwt_revocation_of_legacy_tokens(db: SessionMaker) -> None:
    """A JWT without jti/iat (issued before a migration) is revoked with all the user's tokens."""
    user = await _user(db)
    legacy = pyjwt.encode({"sub": str(user.id), "aud": ["fastapi-users:auth"]}, SECRET, algorithm="HS256")
    async with db() as session:
        revoked = SQLAlchemyRevokedTokenDatabase(session, RevokedToken)
        strategy = JWTStrategy[User, uuid.UUID](SECRET, None, revoked_tokens=revoked)
        manager = _manager(session)
        assert await strategy.read_token(legacy, manager) is not None

        await strategy.destroy_token(legacy, user)

        assert await strategy.read_token(legacy, manager) is None
        rows = await revoked.get_many([f"user:{user.id}"])
        assert rows[f"user:{user.id}"].expires_at is None


async def test_jwt_without_table_cannot_destroy() -> None:
    """Without a table, JWT destroy raises the compat error that logout swallows."""
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 60)
    user = User(id=uuid.uuid4(), email="x@camelot.bt", hashed_password="h")

    with pytest.raises(JWTStrategyDestroyNotSupportedError):
        await strategy.destroy_token("token", user)
    with pytest.raises(JWTStrategyDestroyNotSupportedError):
        await strategy.destroy_all_tokens(user)
