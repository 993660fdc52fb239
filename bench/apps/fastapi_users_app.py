"""FastAPI Users' documented SQLAlchemy example, in one module, plus the benchmark's reference endpoints.

This is the FastAPI Users 15 side of the comparison. The fastapi-userkit side is generated from
this very text by ``bench.apps.userkit_source`` (the import search-and-replace of the migration
guide, nothing else), so the two applications are the same code.

What follows the documented example:

* ``User`` from ``SQLAlchemyBaseUserTableUUID``, the engine and ``async_sessionmaker`` with their
  defaults, a session dependency that yields without committing, ``get_user_db``,
  ``get_user_manager`` yielding ``UserManager(user_db)`` (so the default password hasher:
  Argon2id t=3, m=64 MiB, p=4), the JWT backend over Bearer, ``current_user(active=True)``, the
  routers at the documented prefixes, tables created in the lifespan;
* the database and Redis strategies written as the documentation's strategy pages write them,
  each behind its own ``FastAPIUsers`` object and routers (``/auth/database``, ``/database/users``,
  ``/auth/redis``, ``/redis/users``), so a request only meets the backend it measures.

Benchmark additions, identical on both sides because they use no library import:

* ``GET /bench/bare``: a constant (the framework's own cost);
* ``GET /bench/jwt``: decodes the bearer JWT with PyJWT and nothing else;
* ``GET /bench/ceiling``: decodes the JWT and reads the user with one raw indexed select through
  the bare driver (aiosqlite or asyncpg): the old hand-written ceiling of ``GET /users/me``;
* ``GET /bench/chain``: depends on the app's own ``get_user_manager`` (its session, ``get_user_db``
  and manager dependencies) and returns a constant: what this app pays before any library code;
* ``GET /bench/chain-ceiling``: the same-chain ceiling, ``/bench/chain``'s dependencies plus
  ``/bench/ceiling``'s work (the JWT decode and the raw indexed select): what a hand-written
  ``/users/me`` costs in this very app;
* seeding: the lifespan inserts ``BENCH_SEED_USERS`` users whose password hash was made once by
  the harness with the default Argon2id parameters.

Configuration comes from ``BENCH_*`` environment variables set by the harness.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg
import jwt
import redis.asyncio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy, RedisStrategy
from fastapi_users.authentication.strategy.db import AccessTokenDatabase, DatabaseStrategy
from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users_db_sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase, SQLAlchemyBaseAccessTokenTableUUID
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
SECRET = os.environ["BENCH_SECRET"]
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_PREFIX = os.environ.get("BENCH_REDIS_PREFIX", "bench_token:")
SEED_USERS = int(os.environ.get("BENCH_SEED_USERS", "0"))
SEED_HASH = os.environ.get("BENCH_SEED_HASH", "")
TOKEN_AUDIENCE = ["fastapi-users:auth"]


# --- db.py of the documented example -------------------------------------------------------


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass


engine = create_async_engine(DATABASE_URL)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def create_db_and_tables() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_async_session)) -> AsyncGenerator[Any, None]:
    yield SQLAlchemyUserDatabase(session, User)


async def get_access_token_db(session: AsyncSession = Depends(get_async_session)) -> AsyncGenerator[Any, None]:
    yield SQLAlchemyAccessTokenDatabase(session, AccessToken)


# --- schemas.py ----------------------------------------------------------------------------


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserUpdate(schemas.BaseUserUpdate):
    pass


# --- users.py ------------------------------------------------------------------------------


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        print(f"User {user.id} has registered.")

    async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
        print(f"User {user.id} has forgot their password. Reset token: {token}")

    async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
        print(f"Verification requested for user {user.id}. Verification token: {token}")


async def get_user_manager(user_db: Any = Depends(get_user_db)) -> AsyncGenerator[UserManager, None]:
    yield UserManager(user_db)


bearer_transport = BearerTransport(tokenUrl="auth/jwt/login")


def get_jwt_strategy() -> JWTStrategy[Any, Any]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


auth_backend = AuthenticationBackend(name="jwt", transport=bearer_transport, get_strategy=get_jwt_strategy)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

current_active_user = fastapi_users.current_user(active=True)


# --- the database and Redis strategies, as their documentation pages write them -------------


def get_database_strategy(
    access_token_db: AccessTokenDatabase[Any] = Depends(get_access_token_db),
) -> DatabaseStrategy[Any, Any, Any]:
    return DatabaseStrategy(access_token_db, lifetime_seconds=3600)


redis_client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)


def get_redis_strategy() -> RedisStrategy[Any, Any]:
    return RedisStrategy(redis_client, lifetime_seconds=3600, key_prefix=REDIS_PREFIX)


database_backend = AuthenticationBackend(
    name="database", transport=BearerTransport(tokenUrl="auth/database/login"), get_strategy=get_database_strategy
)
redis_backend = AuthenticationBackend(
    name="redis", transport=BearerTransport(tokenUrl="auth/redis/login"), get_strategy=get_redis_strategy
)
fastapi_users_database = FastAPIUsers[User, uuid.UUID](get_user_manager, [database_backend])
fastapi_users_redis = FastAPIUsers[User, uuid.UUID](get_user_manager, [redis_backend])


# --- the benchmark's reference endpoints (no library code) -----------------------------------


class CeilingReader:
    """One raw indexed select of a user by id, through the bare driver."""

    def __init__(self) -> None:
        self.sqlite: aiosqlite.Connection | None = None
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        url = engine.url
        if url.get_backend_name() == "sqlite":
            self.sqlite = await aiosqlite.connect(url.database or "")
        else:
            self.pool = await asyncpg.create_pool(
                host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
            )

    async def close(self) -> None:
        if self.sqlite is not None:
            await self.sqlite.close()
        if self.pool is not None:
            await self.pool.close()

    async def user(self, user_id: str) -> dict[str, Any] | None:
        if self.pool is not None:
            row = await self.pool.fetchrow(
                'SELECT id, email, is_active, is_superuser, is_verified FROM "user" WHERE id = $1', uuid.UUID(user_id)
            )
            return None if row is None else {**dict(row), "id": str(row["id"])}
        assert self.sqlite is not None  # noqa: S101 - opened in the lifespan
        cursor = await self.sqlite.execute(
            'SELECT id, email, is_active, is_superuser, is_verified FROM "user" WHERE id = ?', (user_id,)
        )
        found = await cursor.fetchone()
        await cursor.close()
        if found is None:
            return None
        return {
            "id": found[0],
            "email": found[1],
            "is_active": bool(found[2]),
            "is_superuser": bool(found[3]),
            "is_verified": bool(found[4]),
        }


ceiling_reader = CeilingReader()


def bearer_claims(request: Request) -> dict[str, Any]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status_code=401)
    try:
        claims: dict[str, Any] = jwt.decode(token, SECRET, audience=TOKEN_AUDIENCE, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise HTTPException(status_code=401) from exc
    return claims


async def seed_users() -> None:
    if SEED_USERS <= 0:
        return
    async with async_session_maker() as session:
        if await session.scalar(select(func.count()).select_from(User)):
            return
        session.add_all(
            User(email=f"user{index}@example.com", hashed_password=SEED_HASH, is_active=True, is_verified=True)
            for index in range(SEED_USERS)
        )
        await session.commit()


# --- app.py of the documented example --------------------------------------------------------


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    await create_db_and_tables()
    await seed_users()
    await ceiling_reader.open()
    yield
    await ceiling_reader.close()
    await redis_client.aclose()
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/bench/bare")
async def bench_bare() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/bench/jwt")
async def bench_jwt(request: Request) -> dict[str, Any]:
    return {"sub": bearer_claims(request)["sub"]}


@app.get("/bench/ceiling")
async def bench_ceiling(request: Request) -> dict[str, Any]:
    user = await ceiling_reader.user(bearer_claims(request)["sub"])
    if user is None or not user["is_active"]:
        raise HTTPException(status_code=401)
    return user


@app.get("/bench/chain")
async def bench_chain(_user_manager: Any = Depends(get_user_manager)) -> dict[str, str]:
    return {"status": "ok"}


@app.get("/bench/chain-ceiling")
async def bench_chain_ceiling(request: Request, _user_manager: Any = Depends(get_user_manager)) -> dict[str, Any]:
    user = await ceiling_reader.user(bearer_claims(request)["sub"])
    if user is None or not user["is_active"]:
        raise HTTPException(status_code=401)
    return user


app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"])
app.include_router(fastapi_users_database.get_auth_router(database_backend), prefix="/auth/database", tags=["auth"])
app.include_router(fastapi_users_database.get_users_router(UserRead, UserUpdate), prefix="/database/users")
app.include_router(fastapi_users_redis.get_auth_router(redis_backend), prefix="/auth/redis", tags=["auth"])
app.include_router(fastapi_users_redis.get_users_router(UserRead, UserUpdate), prefix="/redis/users")


@app.get("/authenticated-route")
async def authenticated_route(user: User = Depends(current_active_user)) -> dict[str, str]:
    return {"message": f"Hello {user.email}!"}
