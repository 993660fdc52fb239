"""An application built the way FastAPI Users' documentation builds one, for HTTP tests.

``make_app`` follows the seed pattern exactly: a session dependency that yields without
committing, a ``get_user_db`` dependency, a ``get_user_manager`` dependency, backends, and the
routers at the documented prefixes. Hooks record what they receive in ``HookLog``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
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
from fastapi_userkit.db.security_events import SQLAlchemySecurityEventDatabase
from fastapi_userkit.mfa import MFA
from fastapi_userkit.password import PasswordHelper
from fastapi_userkit.security import DEFAULT_PASSWORD_POLICY, PasswordPolicy, SecuritySettings
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


SessionDependency = Callable[[], AsyncGenerator[AsyncSession, None]]
BackendsFactory = Callable[[SessionDependency], dict[str, AuthenticationBackend[User, uuid.UUID]]]
PasswordValidator = Callable[[str, Any], Awaitable[None]]
"""An app's password policy: ``await validator(password, user)`` raises ``InvalidPasswordException``."""


def make_user_manager_class(
    log: HookLog,
    *,
    validate_password: PasswordValidator | None = None,
    policy: PasswordPolicy | None = None,
    hook_delay_seconds: float = 0.0,
) -> type[BaseUserManager[User, uuid.UUID]]:
    """A UserManager subclass whose hooks write to ``log`` (and with ``validate_password``, if given).

    With ``policy``, the library's default ``validate_password`` applies that policy (without it,
    the app's override below accepts any password). ``hook_delay_seconds`` makes the e-mailing
    hooks as slow as a real mailer.
    """

    class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
        reset_password_token_secret = SECRET
        verification_token_secret = SECRET
        password_policy = policy or DEFAULT_PASSWORD_POLICY

        async def validate_password(self, password: str, user: Any) -> None:
            if validate_password is not None:
                await validate_password(password, user)
            elif policy is not None:
                await super().validate_password(password, user)

        async def on_registration_conflict(self, user: User, request: Request | None = None) -> None:
            await asyncio.sleep(hook_delay_seconds)
            log.record("on_registration_conflict", user=user)

        async def on_after_register(self, user: User, request: Request | None = None) -> None:
            log.record("on_after_register", user=user)

        async def on_after_update(
            self, user: User, update_dict: dict[str, Any], request: Request | None = None
        ) -> None:
            log.record("on_after_update", user=user, update_dict=update_dict)

        async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
            await asyncio.sleep(hook_delay_seconds)
            log.record("on_after_request_verify", user=user, token=token)

        async def on_after_verify(self, user: User, request: Request | None = None) -> None:
            log.record("on_after_verify", user=user)

        async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
            await asyncio.sleep(hook_delay_seconds)
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

    __test__ = False  # not a test class, although its name starts with "Test"

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
    validate_password: PasswordValidator | None = None,
    backends_factory: BackendsFactory | None = None,
    password_policy: PasswordPolicy | None = None,
    security_event_table: type[Any] | None = None,
    hide_existing_users: bool = False,
    hook_delay_seconds: float = 0.0,
    security: SecuritySettings | None = None,
    mfa: MFA | None = None,
) -> TestApp:
    """Build the documented app: JWT over Bearer at ``/auth/jwt``, JWT over cookie at ``/auth/cookie``.

    ``validate_password`` stands in for the app's ``UserManager.validate_password`` override.
    ``backends_factory`` replaces the two JWT backends; it receives the session dependency, so
    its strategies can use the request's session.
    ``password_policy`` turns the library's default ``validate_password`` on with that policy;
    ``security_event_table`` stores security events there and mounts ``/users/me/security-events``;
    ``hide_existing_users`` is the register router's enumeration-safe mode.
    ``security`` is passed to ``FastAPIUsers(..., security=...)`` (``None``: the defaults).
    ``mfa`` turns two-factor login on and mounts its router under ``/users``.
    """
    hooks = HookLog()
    manager_class = make_user_manager_class(
        hooks, validate_password=validate_password, policy=password_policy, hook_delay_seconds=hook_delay_seconds
    )

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
        events = None
        if security_event_table is not None:
            events = SQLAlchemySecurityEventDatabase(user_db.session, security_event_table)
        yield manager_class(user_db, fast_password_helper(), security_event_db=events)

    def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, lifetime_seconds)

    backends = {
        "jwt": AuthenticationBackend("jwt", BearerTransport("auth/jwt/login"), get_jwt_strategy),
        "cookie": AuthenticationBackend("cookie", CookieTransport(cookie_secure=False), get_jwt_strategy),
    }
    if backends_factory is not None:
        backends = backends_factory(get_async_session)
    for backend in extra_backends:
        backends[backend.name] = backend
    fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, list(backends.values()), security=security, mfa=mfa)

    app = FastAPI()
    for name, backend in backends.items():
        app.include_router(
            fastapi_users.get_auth_router(backend, requires_verification=requires_verification),
            prefix=f"/auth/{name}",
        )
    app.include_router(
        fastapi_users.get_register_router(UserRead, UserCreate, hide_existing_users=hide_existing_users), prefix="/auth"
    )
    app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth")
    if security_event_table is not None:
        app.include_router(fastapi_users.get_security_events_router(), prefix="/users")
    app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth")
    if mfa is not None:
        app.include_router(fastapi_users.get_mfa_router(), prefix="/users")
    app.include_router(
        fastapi_users.get_users_router(UserRead, UserUpdate, requires_verification=requires_verification),
        prefix="/users",
    )
    return TestApp(app, fastapi_users, backends, session_maker, hooks)
