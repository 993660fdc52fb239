"""Applications for ``userkit check --deploy`` tests: a production-ready baseline and its variants.

:func:`build` makes the baseline, on which every audit stays silent; each keyword turns one
setting into what an audit should catch. ``--app tests.cli.deployapp:secure`` (or ``:insecure``)
names them from the command line.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_userkit.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
    Strategy,
)
from fastapi_userkit.cli import UserkitCLIConfig
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.password import PasswordHelper
from fastapi_userkit.security import CSRFSettings, RateLimitSettings, SecuritySettings, SQLRateLimitBackend
from fastapi_userkit.sessions import RefreshSettings
from tests.models import RefreshToken, User, UserSession

JWT_SECRET = "jwt-3b7c1f0e9a5d4c2b8e6f1a0d9c7b5e3f"
RESET_SECRET = "reset-6a2e9d1c7b3f5a0e8d4c2b9f1e7a3d5c"
VERIFY_SECRET = "verify-0f8e2d6c4a9b1e3d7c5a0f2e8b6d4c1a"
REFRESH_SECRET = "refresh-c5e1a7d3b9f0e2c8a6d4b1f7e3c9a0d2"
OWASP_MINIMUM = (19 * 1024, 2, 1)  # Argon2id m (KiB), t, p


async def _get_user_manager() -> Any:  # pragma: no cover - never called: the audit builds its own manager
    yield None


def build(
    *,
    url: str = "sqlite+aiosqlite:///./deploy.db",
    jwt_secret: str = JWT_SECRET,
    reset_secret: str | None = RESET_SECRET,
    verify_secret: str = VERIFY_SECRET,
    argon2: tuple[int, int, int] = OWASP_MINIMUM,
    bcrypt_first: int | None = None,
    jwt_lifetime: int | None = 900,
    refresh: bool = True,
    revoked_tokens: bool = False,
    cookie_secure: bool = True,
    strategy_factory: Callable[..., Strategy[Any, Any]] | None = None,
    security: SecuritySettings | None = None,
    cors: dict[str, Any] | None = None,
    proxy_middleware: bool = False,
    with_fastapi_users: bool = True,
    with_app: bool = True,
) -> UserkitCLIConfig:
    """The baseline config (every audit silent), with the given settings changed."""
    engine = create_async_engine(url, poolclass=NullPool)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)
    memory, time, lanes = argon2
    hashers: tuple[Any, ...] = (Argon2Hasher(time_cost=time, memory_cost=memory, parallelism=lanes),)
    if bcrypt_first is not None:
        hashers = (BcryptHasher(rounds=bcrypt_first), *hashers)
    helper = PasswordHelper(PasswordHash(hashers))

    class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
        verification_token_secret = verify_secret

    if reset_secret is not None:
        UserManager.reset_password_token_secret = reset_secret

    def get_jwt_strategy() -> JWTStrategy[Any, Any]:
        revoked: Any = object() if revoked_tokens else None  # only its presence is audited
        return JWTStrategy(jwt_secret, jwt_lifetime, revoked_tokens=revoked)

    refresh_settings = (
        RefreshSettings(store=SQLAlchemySessionStore(session_maker, UserSession, RefreshToken), secret=REFRESH_SECRET)
        if refresh
        else None
    )
    backends = [
        AuthenticationBackend(
            "jwt", BearerTransport("auth/jwt/login"), strategy_factory or get_jwt_strategy, refresh=refresh_settings
        ),
        AuthenticationBackend(
            "cookie", CookieTransport(cookie_secure=cookie_secure), get_jwt_strategy, refresh=refresh_settings
        ),
    ]
    if security is None:
        security = SecuritySettings(trusted_proxy_count=1)
    fastapi_users = FastAPIUsers[User, uuid.UUID](_get_user_manager, backends, security=security)
    app = FastAPI()
    app.add_middleware(
        CORSMiddleware, **(cors or {"allow_origins": ["https://app.example"], "allow_credentials": True})
    )
    if proxy_middleware:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    return UserkitCLIConfig(
        user_model=User,
        session_maker=session_maker,
        user_manager_factory=lambda user_db: UserManager(user_db, helper),
        fastapi_users=fastapi_users if with_fastapi_users else None,
        app=app if with_app else None,
    )


def secure() -> UserkitCLIConfig:
    """The baseline: ``check --deploy`` finds nothing."""
    return build()


def insecure() -> UserkitCLIConfig:
    """FastAPI Users' documented example values: ``check --deploy`` fails."""
    return build(jwt_secret="SECRET", reset_secret="SECRET", verify_secret="SECRET", refresh=False, argon2=(1024, 1, 1))


def _unreadable_key() -> JWTStrategy[Any, Any]:
    raise RuntimeError("cannot read the signing key")


def failing_factory() -> UserkitCLIConfig:
    """A strategy factory that fails when called."""
    return build(strategy_factory=_unreadable_key)


def with_rate_limit_backend(backend: SQLRateLimitBackend) -> SecuritySettings:
    """Security settings whose rate-limit counters live in ``backend``."""
    return SecuritySettings(rate_limit=RateLimitSettings(backend=backend), trusted_proxy_count=1)


def with_csrf_secret(secret: str) -> SecuritySettings:
    """Security settings with CSRF tokens signed by ``secret``."""
    return SecuritySettings(csrf=CSRFSettings(mode="token", token_secret=secret), trusted_proxy_count=1)
