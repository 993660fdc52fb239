"""Deactivation and deletion end a user's tokens and sessions for good (issue 16, item 8).

App code calls the manager without a request: the rows of the token and session tables go on
every database, and the strategies and stores the manager was given end their tokens too, so
a reactivation revives nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio
from sqlalchemy import ForeignKey, Integer, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fastapi_userkit import BaseUserManager
from fastapi_userkit.authentication import DatabaseStrategy, JWTStrategy, RedisStrategy
from fastapi_userkit.authentication.strategy._opaque import digest
from fastapi_userkit.db import GUID, BaseUserDatabase, SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.db.revoked_token import SQLAlchemyRevokedTokenDatabase
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.schemas import BaseUserUpdate
from fastapi_userkit.sessions import SessionRecord
from fastapi_userkit.sessions.redis import RedisSessionStore
from tests.app_factory import SECRET, HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import REDIS_PREFIX, EngineFactory, SessionMaker
from tests.models import AccessToken, OAuthAccount, RefreshToken, RevokedToken, User, UserSession
from tests.strategies.apps import Harness

_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _manager(session: AsyncSession, **kwargs: Any) -> BaseUserManager[User, uuid.UUID]:
    return make_user_manager_class(HookLog())(SQLAlchemyUserDatabase(session, User), fast_password_helper(), **kwargs)


def _record(user_id: uuid.UUID) -> SessionRecord:
    return SessionRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        created_at=_NOW,
        last_used_at=_NOW,
        expires_at=_NOW + timedelta(days=1),
        ip_address=None,
        user_agent=None,
        credential="c",
    )


async def _user(db: SessionMaker) -> User:
    async with db() as session:
        return await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).create(
            {"email": "ector@camelot.bt", "hashed_password": "argon2-hash-stand-in"}
        )


async def _count(db: SessionMaker, model: Any) -> int:
    async with db() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _seed_rows(db: SessionMaker, user: User) -> str:
    """A database token, a refresh session with its token, and an OAuth account of ``user``."""
    async with db() as session:
        token = await DatabaseStrategy[User, uuid.UUID, AccessToken](
            SQLAlchemyAccessTokenDatabase(session, AccessToken)
        ).write_token(user)
        session.add(
            OAuthAccount(
                user_id=user.id, oauth_name="camelot", access_token="a", account_id="1", account_email=user.email
            )
        )
        await session.commit()
    await SQLAlchemySessionStore(db, UserSession, RefreshToken).create(_record(user.id), digest("refresh"))
    return token


async def _set_active(db: SessionMaker, user_id: uuid.UUID, active: bool, **kwargs: Any) -> None:
    async with db() as session:
        manager = _manager(session, **kwargs)
        await manager.update(BaseUserUpdate(is_active=active), await manager.get(user_id), safe=False)


async def _read_database_token(db: SessionMaker, token: str) -> User | None:
    async with db() as session:
        strategy = DatabaseStrategy[User, uuid.UUID, AccessToken](SQLAlchemyAccessTokenDatabase(session, AccessToken))
        return await strategy.read_token(token, _manager(session))


async def test_app_code_delete_leaves_no_token_or_session_rows(db: SessionMaker) -> None:
    """manager.delete() without a request deletes the user's token, session and OAuth rows, SQLite included."""
    user = await _user(db)
    await _seed_rows(db, user)

    async with db() as session:
        manager = _manager(session)
        await manager.delete(await manager.get(user.id))

    counts = [await _count(db, model) for model in (User, AccessToken, UserSession, RefreshToken, OAuthAccount)]
    assert counts == [0, 0, 0, 0, 0]


async def test_app_code_deactivation_ends_database_tokens_for_good(db: SessionMaker) -> None:
    """Deactivating through manager.update() deletes token and session rows: reactivation revives none."""
    user = await _user(db)
    token = await _seed_rows(db, user)
    assert await _read_database_token(db, token) is not None

    await _set_active(db, user.id, False)
    await _set_active(db, user.id, True)

    assert await _read_database_token(db, token) is None
    counts = [await _count(db, model) for model in (AccessToken, UserSession, RefreshToken, OAuthAccount)]
    assert counts == [0, 0, 0, 1]


async def test_reactivation_ends_nothing(db: SessionMaker) -> None:
    """Reactivating (or any update that keeps the user active) leaves the stored tokens alone."""
    user = await _user(db)
    token = await _seed_rows(db, user)

    await _set_active(db, user.id, True)

    assert await _read_database_token(db, token) is not None
    assert await _count(db, UserSession) == 1


async def test_app_code_deactivation_and_deletion_end_redis_tokens_and_sessions(
    db: SessionMaker, redis_client: redis.asyncio.Redis
) -> None:
    """The manager's session_strategies and session_stores end Redis tokens, index and sessions outside a request."""
    user = await _user(db)
    strategy = RedisStrategy[User, uuid.UUID](redis_client, key_prefix=f"{REDIS_PREFIX}end:")
    store = RedisSessionStore(redis_client, key_prefix=f"{REDIS_PREFIX}endsession:")
    wiring = {"session_strategies": [strategy], "session_stores": [store]}
    token = await strategy.write_token(user)
    await store.create(_record(user.id), digest("refresh"))

    await _set_active(db, user.id, False, **wiring)
    await _set_active(db, user.id, True, **wiring)

    async with db() as session:
        assert await strategy.read_token(token, _manager(session)) is None
    assert await store.list_for_user(user.id) == []
    second = await strategy.write_token(user)
    async with db() as session:
        manager = _manager(session, **wiring)
        await manager.delete(await manager.get(user.id))
    assert [key async for key in redis_client.scan_iter(f"{REDIS_PREFIX}end:*")] == []
    assert second not in str([key async for key in redis_client.scan_iter(f"{REDIS_PREFIX}*")])


async def test_app_code_deactivation_revokes_jwts_with_a_revocation_table(db: SessionMaker) -> None:
    """A JWT strategy with a revoked-token table given to the manager: reactivation does not revive its tokens."""
    user = await _user(db)
    async with db() as session:
        strategy = JWTStrategy[User, uuid.UUID](
            SECRET, 3600, revoked_tokens=SQLAlchemyRevokedTokenDatabase(session, RevokedToken)
        )
        token = await strategy.write_token(user)
        manager = _manager(session, session_strategies=[strategy])
        await manager.update(BaseUserUpdate(is_active=False), await manager.get(user.id), safe=False)
        await manager.update(BaseUserUpdate(is_active=True), await manager.get(user.id), safe=False)

        assert await strategy.read_token(token, manager) is None


async def test_delete_route_leaves_no_redis_keys_or_index(
    redis_tokens: Harness, redis_client: redis.asyncio.Redis
) -> None:
    """DELETE /users/{id} deletes the user's Redis token keys and per-user index."""
    user_id = await redis_tokens.register("lucan@camelot.bt")
    await redis_tokens.login("bearer", "lucan@camelot.bt")
    await redis_tokens.login("cookie", "lucan@camelot.bt")
    admin = await redis_tokens.make_superuser("arthur@camelot.bt")
    assert len([key async for key in redis_client.scan_iter(f"{REDIS_PREFIX}token:*{user_id}")]) == 1

    response = await redis_tokens.client.delete(f"/users/{user_id}", headers=admin.headers())

    assert response.status_code == 204
    keys = [key async for key in redis_client.scan_iter(f"{REDIS_PREFIX}token:*")]
    assert len(keys) == 2  # the superuser's token and index only
    assert all(user_id not in key for key in keys)


async def test_deactivation_route_ends_redis_tokens_for_good(redis_tokens: Harness) -> None:
    """PATCH /users/{id} is_active false then true: the user's earlier Redis token stays refused."""
    user_id = await redis_tokens.register("lucan@camelot.bt")
    victim = await redis_tokens.login("bearer", "lucan@camelot.bt")
    admin = await redis_tokens.make_superuser("arthur@camelot.bt")

    for active in (False, True):
        response = await redis_tokens.client.patch(
            f"/users/{user_id}", json={"is_active": active}, headers=admin.headers()
        )
        assert response.status_code == 200

    assert await redis_tokens.me_status(victim) == 401


class _CycleBase(DeclarativeBase):
    """An application whose own table references the user and itself, both with ON DELETE CASCADE."""


class _CycleUser(SQLAlchemyBaseUserTableUUID, _CycleBase):
    pass


class _Node(_CycleBase):
    __tablename__ = "node"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("user.id", ondelete="cascade"))
    parent_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("node.id", ondelete="cascade"), nullable=True)


async def test_sqlite_cascade_emulation_follows_app_tables_and_stops_at_cycles(engine_for: EngineFactory) -> None:
    """On SQLite, deleting a user deletes the app's own cascading rows, a self-referencing table included."""
    engine = await engine_for("sqlite")
    async with engine.begin() as connection:
        await connection.run_sync(_CycleBase.metadata.create_all)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session:
        user_db = SQLAlchemyUserDatabase[_CycleUser, uuid.UUID](session, _CycleUser)
        user = await user_db.create({"email": "ector@camelot.bt", "hashed_password": "x"})
        other = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "x"})
        session.add_all([_Node(id=1, user_id=user.id), _Node(id=2, user_id=user.id, parent_id=1)])
        session.add(_Node(id=3, user_id=other.id))
        await session.commit()

        await user_db.delete(user)

        remaining = (await session.execute(select(_Node.id))).scalars().all()
    assert remaining == [3]


class _CountingStrategy:
    """A strategy that only counts how often the manager ends all of a user's tokens."""

    def __init__(self) -> None:
        self.ended: list[uuid.UUID] = []

    async def destroy_all_tokens(self, user: User) -> None:
        self.ended.append(user.id)


class _PlainUserDatabase(BaseUserDatabase[User, uuid.UUID]):
    """A user storage of the FastAPI Users kind: it cannot end sessions itself."""

    def __init__(self, inner: SQLAlchemyUserDatabase[User, uuid.UUID]) -> None:
        self.inner = inner

    async def get(self, id: uuid.UUID) -> User | None:
        return await self.inner.get(id)

    async def update(self, user: User, update_dict: dict[str, Any]) -> User:
        return await self.inner.update(user, update_dict)


async def test_manager_ends_each_strategy_once_and_needs_no_session_capable_storage(db: SessionMaker) -> None:
    """A strategy given twice is ended once; a user storage without delete_user_sessions keeps its token rows."""
    user = await _user(db)
    await _seed_rows(db, user)
    strategy = _CountingStrategy()

    async with db() as session:
        user_db = _PlainUserDatabase(SQLAlchemyUserDatabase(session, User))
        manager = make_user_manager_class(HookLog())(user_db, fast_password_helper(), session_strategies=[strategy] * 2)
        await manager.update(BaseUserUpdate(is_active=False), await manager.get(user.id), safe=False)

    assert strategy.ended == [user.id]
    assert await _count(db, AccessToken) == 1
