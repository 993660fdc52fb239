"""An application built the way FastAPI Users' documentation builds one, for HTTP tests.

``make_app`` follows the seed pattern exactly: a session dependency that yields without
committing, a ``get_user_db`` dependency, a ``get_user_manager`` dependency, backends, and the
routers at the documented prefixes. Hooks record what they receive in ``HookLog``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, CookieTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.password import PasswordHelper
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User

SECRET = "test-secret-for-signing-tokens-0123456789abcdef"


def fast_password_helper() -> PasswordHelper:
    """Argon2id with the cheapest parameters, so tests do not spend seconds hashing."""
    return PasswordHelper(
        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1), BcryptHasher(rounds=4)))
    )


class UserRead(schemas.BaseUser[uuid.UUID]):
    """Read schema with the custom column."""

    first_name: str | None = None


class UserCreate(schemas.BaseUserCreate):
    """Create schema with the custom column."""

    first_name: str | None = None


class UserUpdate(schemas.BaseUserUpdate):
    """Update schema with the custom column."""

    first_name: str | None = None


@dataclass
class HookLog:
    """What the manager's hooks were called with, in order."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, name: str, **kwargs: Any) -> None:
        """Append one call."""
        self.calls.append((name, kwargs))

    def last(self, name: str) -> dict[str, Any]:
        """The arguments of the last call of hook ``name``."""
        for hook, kwargs in reversed(self.calls):
            if hook == name:
                found: dict[str, Any] = kwargs
                return found
        raise AssertionError(f"hook {name} was not called")

    def names(self) -> list[str]:
        """The hooks called, in order."""
        return [name for name, _ in self.calls]


def make_user_manager_class(log: HookLog) -> type[BaseUserManager[User, uuid.UUID]]:
    """A UserManager subclass whose hooks write to ``log``."""

    class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
        reset_password_token_secret = SECRET
        verification_token_secret = SECRET

        async def on_after_register(self, user: User, request: Request | None = None) -> None:
            log.record("on_after_register", user=user)

        async def on_after_update(
            self, user: User, update_dict: dict[str, Any], request: Request | None = None
        ) -> None:
            log.record("on_after_update", user=user, update_dict=update_dict)

        async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
            log.record("on_after_request_verify", user=user, token=token)

        async def on_after_verify(self, user: User, request: Request | None = None) -> None:
            log.record("on_after_verify", user=user)

        async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
            log.record("on_after_forgot_password", user=user, token=token)

        async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
            log.record("on_after_reset_password", user=user)

        async def on_after_login(
            self, user: User, request: Request | None = None, response: Response | None = None
        ) -> None:
            log.record("on_after_login", user=user, response=response)

        async def on_before_delete(self, user: User, request: Request | None = None) -> None:
            log.record("on_before_delete", user=user)

        async def on_after_delete(self, user: User, request: Request | None = None) -> None:
            log.record("on_after_delete", user=user)

    return UserManager


@dataclass
class TestApp:
    """The app and the objects tests reach into."""

    app: FastAPI
    fastapi_users: FastAPIUsers[User, uuid.UUID]
    backends: dict[str, AuthenticationBackend[User, uuid.UUID]]
    session_maker: SessionMaker
    hooks: HookLog


def make_app(
    session_maker: SessionMaker,
    *,
    requires_verification: bool = False,
    lifetime_seconds: int | None = 3600,
    extra_backends: Sequence[AuthenticationBackend[User, uuid.UUID]] = (),
) -> TestApp:
    """Build the documented app: JWT over Bearer at ``/auth/jwt``, JWT over cookie at ``/auth/cookie``."""
    hooks = HookLog()
    manager_class = make_user_manager_class(hooks)

    async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
        async with session_maker() as session:
            yield session

    async def get_user_db(
        session: AsyncSession = Depends(get_async_session),  # noqa: B008 - FastAPI's documented style
    ) -> AsyncGenerator[SQLAlchemyUserDatabase[User, uuid.UUID], None]:
        yield SQLAlchemyUserDatabase(session, User, OAuthAccount)

    async def get_user_manager(
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = Depends(get_user_db),  # noqa: B008
    ) -> AsyncGenerator[BaseUserManager[User, uuid.UUID], None]:
        yield manager_class(user_db, fast_password_helper())

    def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, lifetime_seconds)

    backends = {
        "jwt": AuthenticationBackend("jwt", BearerTransport("auth/jwt/login"), get_jwt_strategy),
        "cookie": AuthenticationBackend("cookie", CookieTransport(cookie_secure=False), get_jwt_strategy),
    }
    for backend in extra_backends:
        backends[backend.name] = backend
    fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, list(backends.values()))

    app = FastAPI()
    for name, backend in backends.items():
        app.include_router(
            fastapi_users.get_auth_router(backend, requires_verification=requires_verification),
            prefix=f"/auth/{name}",
        )
    app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth")
    app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth")
    app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth")
    app.include_router(
        fastapi_users.get_users_router(UserRead, UserUpdate, requires_verification=requires_verification),
        prefix="/users",
    )
    return TestApp(app, fastapi_users, backends, session_maker, hooks)
