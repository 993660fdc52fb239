"""Tokens FastAPI Users issued keep working after the move, and end like new ones (issue 21, item 2).

Each test plants a token where FastAPI Users 15 puts it (the ``accesstoken`` row or the Redis key
``{prefix}{token}`` holding the user id), runs the migration step, and drives the app over HTTP.
The harness's two backends (Bearer and cookie) share one strategy, as two backends over one
table or prefix would.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_userkit.authentication.strategy._legacy import (
    is_legacy_token,
    legacy_digest,
    legacy_redis_user_id,
)
from fastapi_userkit.authentication.strategy._opaque import digest
from fastapi_userkit.cli import UserkitCLIConfig
from fastapi_userkit.cli.migrate_tokens import password_hashes_for
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.migrations.tokens import TokenMigration, migrate_redis_tokens, migrate_sql_tokens
from fastapi_userkit.schemas import BaseUserUpdate
from tests.app_factory import fast_password_helper
from tests.cli.cliapp import UserManager
from tests.conftest import REDIS_PREFIX, SessionMaker
from tests.models import AccessToken, User
from tests.strategies.apps import LIFETIME, Harness, Kind, Session, harness_for

PREFIX = f"{REDIS_PREFIX}token:"  # the harness's RedisStrategy key_prefix
EMAIL = "gawain@camelot.bt"


@dataclass
class Legacy:
    """A harness with database or Redis tokens, and FastAPI Users' way of storing them."""

    harness: Harness
    kind: Kind
    redis: redis.asyncio.Redis

    async def plant(self, user_id: str, *, age: int = 60) -> str:
        """Store a token as FastAPI Users 15 does (the token itself), issued ``age`` seconds ago; return it."""
        token = secrets.token_urlsafe()  # what FastAPI Users' DatabaseStrategy and RedisStrategy issue
        if self.kind == "redis":
            await self.redis.set(f"{PREFIX}{token}", user_id, ex=LIFETIME - age)
        else:
            async with self.harness.test_app.session_maker() as session:
                created = datetime.now(UTC) - timedelta(seconds=age)
                await session.execute(
                    insert(AccessToken).values(token=token, created_at=created, user_id=uuid.UUID(user_id))
                )
                await session.commit()
        return token

    async def migrate(self) -> TokenMigration:
        """Run the migration step of this kind."""
        if self.kind == "redis":
            config = UserkitCLIConfig(user_model=User, session_maker=self.harness.test_app.session_maker)
            return await migrate_redis_tokens(self.redis, password_hashes_for(config), PREFIX)
        engine: AsyncEngine = self.harness.test_app.session_maker.kw["bind"]
        async with engine.begin() as connection:
            counts: TokenMigration = await connection.run_sync(lambda sync: migrate_sql_tokens(sync, "accesstoken"))
        return counts


@pytest.fixture(params=["database", "redis"])
async def legacy(
    request: pytest.FixtureRequest, db: SessionMaker, redis_client: redis.asyncio.Redis
) -> AsyncIterator[Legacy]:
    """Database or Redis tokens, on every database."""
    kind: Kind = request.param
    async for built in harness_for(db, kind, redis_client if kind == "redis" else None):
        yield Legacy(built, kind, redis_client)


def test_legacy_form() -> None:
    """Only secrets.token_urlsafe()'s form is a legacy token; a legacy digest never is, nor a new digest."""
    token = secrets.token_urlsafe()

    assert is_legacy_token(token)
    assert not is_legacy_token(f"{token}.credentialtag16ch~backendtag1")
    assert not is_legacy_token(legacy_digest(token))
    assert len(legacy_digest(token)) == 43
    assert legacy_digest(token).startswith("~")
    assert "~" not in digest(token)
    assert legacy_redis_user_id("short:1") is None
    assert legacy_redis_user_id("a" * 16) is None


async def test_old_tokens_work_only_after_migration(legacy: Legacy) -> None:
    """A FastAPI Users token answers 401 before the step, 200 after it, through either backend sharing the store."""
    user_id = await legacy.harness.register(EMAIL)
    token = await legacy.plant(user_id)
    before = await legacy.harness.me_status(Session("bearer", token))

    counts = await legacy.migrate()
    again = await legacy.migrate()

    assert before == 401
    assert counts == TokenMigration(migrated=1)
    assert again == TokenMigration(already=1)
    assert await legacy.harness.me_status(Session("bearer", token)) == 200
    # Several backends over one table or prefix: each accepts it, as in FastAPI Users.
    assert await legacy.harness.me_status(Session("cookie", token)) == 200


async def test_logout_ends_an_old_token(legacy: Legacy) -> None:
    """POST /logout with an old token deletes it: 401 afterwards, and nothing stored under its legacy digest."""
    user_id = await legacy.harness.register(EMAIL)
    token = await legacy.plant(user_id)
    await legacy.migrate()

    response = await legacy.harness.client.post("/auth/bearer/logout", headers=Session("bearer", token).headers())

    assert response.status_code in {200, 204}
    assert await legacy.harness.me_status(Session("bearer", token)) == 401
    if legacy.kind == "redis":
        assert await legacy.redis.exists(f"{PREFIX}{legacy_digest(token)}") == 0
        assert await legacy.redis.smembers(f"{PREFIX}user:{user_id}") == set()
    else:
        async with legacy.harness.test_app.session_maker() as session:
            assert (await session.execute(select(func.count()).select_from(AccessToken))).scalar_one() == 0


async def test_logout_everywhere_ends_old_tokens(legacy: Legacy) -> None:
    """POST /logout-all from a new session ends the old tokens too."""
    user_id = await legacy.harness.register(EMAIL)
    tokens = [await legacy.plant(user_id) for _ in range(2)]
    await legacy.migrate()
    fresh = await legacy.harness.login("bearer", EMAIL)

    response = await legacy.harness.client.post("/auth/bearer/logout-all", headers=fresh.headers())

    assert response.status_code == 204
    assert [await legacy.harness.me_status(Session("bearer", token)) for token in tokens] == [401, 401]


async def test_password_change_ends_old_tokens(legacy: Legacy) -> None:
    """PATCH /users/me with a new password ends the old tokens, and the manager outside a request does too."""
    user_id = await legacy.harness.register(EMAIL)
    old = await legacy.plant(user_id)
    other = await legacy.plant(user_id)
    await legacy.migrate()

    response = await legacy.harness.client.patch(
        "/users/me", json={"password": "another long passphrase"}, headers=Session("bearer", old).headers()
    )
    assert response.status_code == 200, response.text

    assert await legacy.harness.me_status(Session("bearer", old)) == 401
    assert await legacy.harness.me_status(Session("bearer", other)) == 401


async def test_password_change_without_a_strategy_ends_old_redis_tokens(legacy: Legacy) -> None:
    """A password changed where no strategy is at hand (a job, a reset link) ends old tokens too."""
    user_id = await legacy.harness.register(EMAIL)
    token = await legacy.plant(user_id)
    await legacy.migrate()

    async with legacy.harness.test_app.session_maker() as session:
        manager = UserManager(SQLAlchemyUserDatabase(session, User), fast_password_helper())
        user = await manager.get(uuid.UUID(user_id))
        await manager.update(BaseUserUpdate(password="another long passphrase"), user)

    assert await legacy.harness.me_status(Session("bearer", token)) == 401


async def test_deactivation_and_deletion_end_old_tokens(legacy: Legacy) -> None:
    """A deactivated user's old token answers 401 and stays ended after reactivation; a deleted user's too."""
    user_id = await legacy.harness.register(EMAIL)
    token = await legacy.plant(user_id)
    second = await legacy.harness.register("bors@camelot.bt")
    doomed = await legacy.plant(second)
    await legacy.migrate()
    admin = await legacy.harness.make_superuser("arthur@camelot.bt")  # a new token, after the move

    off = await legacy.harness.client.patch(f"/users/{user_id}", json={"is_active": False}, headers=admin.headers())
    inactive = await legacy.harness.me_status(Session("bearer", token))
    on = await legacy.harness.client.patch(f"/users/{user_id}", json={"is_active": True}, headers=admin.headers())
    deleted = await legacy.harness.client.delete(f"/users/{second}", headers=admin.headers())

    assert (off.status_code, on.status_code, deleted.status_code) == (200, 200, 204)
    assert inactive == 401
    assert await legacy.harness.me_status(Session("bearer", token)) == 401
    assert await legacy.harness.me_status(Session("bearer", doomed)) == 401


async def test_old_tokens_expire_with_their_lifetime(legacy: Legacy) -> None:
    """An old token keeps its remaining lifetime: the Redis TTL is carried over, the row keeps its creation time."""
    user_id = await legacy.harness.register(EMAIL)
    expired = await legacy.plant(user_id, age=LIFETIME + 60) if legacy.kind == "database" else None
    live = await legacy.plant(user_id, age=600)

    await legacy.migrate()

    assert await legacy.harness.me_status(Session("bearer", live)) == 200
    if expired is not None:
        assert await legacy.harness.me_status(Session("bearer", expired)) == 401
    else:
        ttl = await legacy.redis.ttl(f"{PREFIX}{legacy_digest(live)}")
        assert LIFETIME - 600 - 5 <= ttl <= LIFETIME - 600
        assert await legacy.redis.ttl(f"{PREFIX}user:{user_id}") >= ttl


@pytest.mark.parametrize("legacy", ["redis"], indirect=True)
async def test_a_migrated_redis_value_of_another_form_is_refused(legacy: Legacy) -> None:
    """A key under an old token's legacy digest whose value is not "<tag>:<id>" authenticates nobody."""
    token = secrets.token_urlsafe()
    await legacy.harness.register(EMAIL)
    await legacy.redis.set(f"{PREFIX}{legacy_digest(token)}", "garbage", ex=60)

    assert await legacy.harness.me_status(Session("bearer", token)) == 401
