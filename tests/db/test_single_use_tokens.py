"""Reset and verification tokens used by simultaneous requests succeed once (issue 22).

Each request checked the token, then wrote: on separate connections, every concurrent use passed
the check. The write is now conditional on what the check saw (the old password hash, an
unverified user), so exactly one wins. Pooled engines, so the uses really run concurrently.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from fastapi_userkit import BaseUserManager, exceptions
from fastapi_userkit.db import BaseUserDatabase, SQLAlchemyUserDatabase
from fastapi_userkit.db.base import ConditionalUserUpdate
from tests.app_factory import HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import SessionMaker, database_url_for, reset_schema
from tests.models import Base, OAuthAccount, User

USES = 8


@pytest.fixture
async def pooled(any_backend: str, tmp_path: Path) -> AsyncIterator[SessionMaker]:
    """A connection pool per database, so concurrent uses run on separate connections."""
    engine: AsyncEngine = create_async_engine(await database_url_for(any_backend, tmp_path), pool_size=USES + 2)
    await reset_schema(engine, Base.metadata)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _use(pooled: SessionMaker, log: HookLog, use: str, token: str, n: int) -> str:
    async with pooled() as session:
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = SQLAlchemyUserDatabase(session, User, OAuthAccount)
        manager: BaseUserManager[User, uuid.UUID] = make_user_manager_class(log)(user_db, fast_password_helper())
        try:
            if use == "reset":
                await manager.reset_password(token, f"new passphrase number {n}")
            else:
                await manager.verify(token)
        except (exceptions.InvalidResetPasswordToken, exceptions.UserAlreadyVerified) as exc:
            return type(exc).__name__
    return "ok"


async def _token(pooled: SessionMaker, log: HookLog, flow: str) -> str:
    async with pooled() as session:
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = SQLAlchemyUserDatabase(session, User, OAuthAccount)
        manager = make_user_manager_class(log)(user_db, fast_password_helper())
        user = await user_db.get_by_email("kay@camelot.bt")
        if user is None:
            user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "x", "is_active": True})
        if flow == "reset":
            await manager.forgot_password(user)
            return str(log.last("on_after_forgot_password")["token"])
        await manager.request_verify(user)
        return str(log.last("on_after_request_verify")["token"])


async def test_a_reset_token_used_concurrently_resets_once(pooled: SessionMaker) -> None:
    """Eight simultaneous resets with one token: one succeeds, seven are told the token is spent."""
    log = HookLog()
    token = await _token(pooled, log, "reset")

    results = Counter(await asyncio.gather(*(_use(pooled, log, "reset", token, n) for n in range(USES))))

    assert results == Counter({"ok": 1, "InvalidResetPasswordToken": USES - 1})
    assert log.names().count("on_after_reset_password") == 1


async def test_a_verification_token_used_concurrently_verifies_once(pooled: SessionMaker) -> None:
    """Eight simultaneous verifications with one token: one succeeds, seven hear the user is verified."""
    log = HookLog()
    token = await _token(pooled, log, "verify")

    results = Counter(await asyncio.gather(*(_use(pooled, log, "verify", token, n) for n in range(USES))))

    assert results == Counter({"ok": 1, "UserAlreadyVerified": USES - 1})
    assert log.names().count("on_after_verify") == 1


class _PlainUserDatabase(BaseUserDatabase[User, uuid.UUID]):
    """A user storage written to FastAPI Users' interface only: no conditional update."""

    def __init__(self, inner: SQLAlchemyUserDatabase[User, uuid.UUID]) -> None:
        self.inner = inner

    async def get(self, id: uuid.UUID) -> User | None:
        return await self.inner.get(id)

    async def get_by_email(self, email: str) -> User | None:
        return await self.inner.get_by_email(email)

    async def update(self, user: User, update_dict: dict[str, Any]) -> User:
        return await self.inner.update(user, update_dict)


async def test_a_storage_without_conditional_update_still_resets_and_verifies(db: SessionMaker) -> None:
    """A user storage without ``update_if`` keeps the plain check-then-write: reset and verify work."""
    log = HookLog()
    reset_token, verify_token = await _token(db, log, "reset"), await _token(db, log, "verify")
    async with db() as session:
        plain = _PlainUserDatabase(SQLAlchemyUserDatabase(session, User, OAuthAccount))
        manager = make_user_manager_class(log)(plain, fast_password_helper())
        # Verified first: a reset of a never-verified account verifies it (the first proof of the address).
        verified = await manager.verify(verify_token)
        reset = await manager.reset_password(reset_token, "new passphrase of kay")

    assert not isinstance(plain, ConditionalUserUpdate)
    assert reset.hashed_password != "x"
    assert verified.is_verified


async def test_a_storage_that_cannot_unlink_still_takes_a_never_verified_account_back(db: SessionMaker) -> None:
    """The first proof of the address by a reset verifies the account on a storage without ``remove_oauth_account``."""
    log = HookLog()
    reset_token = await _token(db, log, "reset")
    async with db() as session:
        plain = _PlainUserDatabase(SQLAlchemyUserDatabase(session, User, OAuthAccount))
        manager = make_user_manager_class(log)(plain, fast_password_helper())
        reset = await manager.reset_password(reset_token, "new passphrase of kay")

    assert reset.is_verified
    assert manager.password_helper.verify_and_update("new passphrase of kay", reset.hashed_password)[0]
