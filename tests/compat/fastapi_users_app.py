"""FastAPI Users 15's documented SQLAlchemy example, after the migration's search-and-replace.

The four files of the documentation's "full example" (``db.py``, ``schemas.py``, ``users.py``,
``app.py``) are concatenated here as they are written there, with only two edits, the ones the
migration guide asks for: ``fastapi_users`` -> ``fastapi_userkit`` and
``fastapi_users_db_sqlalchemy`` -> ``fastapi_userkit.db`` in the import lines. Nothing else is
adapted: not the 6-byte ``SECRET``, not the untyped ``get_user_db``, not the ``print`` hooks.
The ``app.`` imports between the files become references within this one module.
"""
# ruff: noqa: B008, T201, UP045, I001, E402, F811 - the documentation's code, kept as written
# mypy: disable-error-code="no-untyped-def, type-arg, no-untyped-call, var-annotated"
# (the documentation's functions carry no return annotations and use bare generics, and its
# get_jwt_strategy returns JWTStrategy[models.UP, models.ID], leaving auth_backend's type open)

# --- db.py -------------------------------------------------------------------------------------
from collections.abc import AsyncGenerator

from fastapi import Depends
from fastapi_userkit.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

DATABASE_URL = "sqlite+aiosqlite:///./test.db"


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


engine = create_async_engine(DATABASE_URL)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def create_db_and_tables():
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_async_session)):
    yield SQLAlchemyUserDatabase(session, User)


# --- schemas.py --------------------------------------------------------------------------------
import uuid

from fastapi_userkit import schemas


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserUpdate(schemas.BaseUserUpdate):
    pass


# --- users.py ----------------------------------------------------------------------------------
import uuid
from typing import Optional

from fastapi import Depends, Request
from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin, models
from fastapi_userkit.authentication import (
    AuthenticationBackend,
    BearerTransport,
    JWTStrategy,
)
from fastapi_userkit.db import SQLAlchemyUserDatabase

SECRET = "SECRET"


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET

    async def on_after_register(self, user: User, request: Optional[Request] = None):
        print(f"User {user.id} has registered.")

    async def on_after_forgot_password(self, user: User, token: str, request: Optional[Request] = None):
        print(f"User {user.id} has forgot their password. Reset token: {token}")

    async def on_after_request_verify(self, user: User, token: str, request: Optional[Request] = None):
        print(f"Verification requested for user {user.id}. Verification token: {token}")


async def get_user_manager(user_db: SQLAlchemyUserDatabase = Depends(get_user_db)):
    yield UserManager(user_db)


bearer_transport = BearerTransport(tokenUrl="auth/jwt/login")


def get_jwt_strategy() -> JWTStrategy[models.UP, models.ID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


auth_backend = AuthenticationBackend(
    name="jwt",
    transport=bearer_transport,
    get_strategy=get_jwt_strategy,
)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])

current_active_user = fastapi_users.current_user(active=True)


# --- app.py ------------------------------------------------------------------------------------
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Not needed if you setup a migration system like Alembic
    await create_db_and_tables()
    yield


app = FastAPI(lifespan=lifespan)

app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(
    fastapi_users.get_register_router(UserRead, UserCreate),
    prefix="/auth",
    tags=["auth"],
)
app.include_router(
    fastapi_users.get_reset_password_router(),
    prefix="/auth",
    tags=["auth"],
)
app.include_router(
    fastapi_users.get_verify_router(UserRead),
    prefix="/auth",
    tags=["auth"],
)
app.include_router(
    fastapi_users.get_users_router(UserRead, UserUpdate),
    prefix="/users",
    tags=["users"],
)


@app.get("/authenticated-route")
async def authenticated_route(user: User = Depends(current_active_user)):
    return {"message": f"Hello {user.email}!"}
