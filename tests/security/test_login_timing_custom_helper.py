"""T12 with an application's own password helper: an unknown e-mail costs what a wrong password costs.

FastAPI Users apps pass a :class:`PasswordHelper` subclass or their own object following
:class:`PasswordHelperProtocol`. Each must cost one verification per login attempt, whether or
not the address has an account (ASVS 5.0 6.3.8; issue 16, item 7): counted exactly, then timed
with production Argon2 costs as ``test_enumeration`` times the default helper.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

import pytest
from fastapi.security import OAuth2PasswordRequestForm

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.password import PasswordHelper, PasswordHelperProtocol
from tests.app_factory import HookLog, UserCreate, fast_password_helper, make_user_manager_class
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User
from tests.security.test_enumeration import KNOWN, PASSWORD, UNKNOWN, interleaved


class CountingSubclass(PasswordHelper):
    """An application's subclass of :class:`PasswordHelper`, counting the Argon2 runs it makes."""

    def __init__(self, inner: PasswordHelper) -> None:
        super().__init__(inner.password_hash)
        self.calls: list[str] = []

    def hash(self, password: str) -> str:
        """Count, then hash."""
        self.calls.append("hash")
        return super().hash(password)

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Count, then verify."""
        self.calls.append("verify")
        return super().verify_and_update(plain_password, hashed_password)


class CountingProtocolHelper:
    """An application's own helper: follows the protocol only, and counts the Argon2 runs it makes."""

    def __init__(self, inner: PasswordHelper) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Count, then verify."""
        self.calls.append("verify")
        return self.inner.verify_and_update(plain_password, hashed_password)

    def hash(self, password: str) -> str:
        """Count, then hash."""
        self.calls.append("hash")
        return self.inner.hash(password)

    def generate(self) -> str:
        """Delegate."""
        return self.inner.generate()


HelperFactory = Callable[[PasswordHelper], CountingSubclass | CountingProtocolHelper]
HELPERS = pytest.mark.parametrize(
    "make_helper", [CountingSubclass, CountingProtocolHelper], ids=["subclass", "protocol"]
)


def _own_class(make_helper: HelperFactory) -> HelperFactory:
    """A subclass of its own for one test: the library keeps a protocol helper's dummy hash per class."""
    own: HelperFactory = type(f"Own{make_helper.__name__}", (make_helper,), {})  # type: ignore[arg-type]
    return own


async def _attempt(http_db: SessionMaker, helper: PasswordHelperProtocol, email: str) -> float:
    """One wrong-password login through the manager; return how long it took."""
    manager_class = make_user_manager_class(HookLog())
    async with http_db() as session:
        manager = manager_class(SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount), helper)
        start = time.perf_counter()
        user = await manager.authenticate(OAuth2PasswordRequestForm(username=email, password="not-the-password"))
        elapsed = time.perf_counter() - start
    assert user is None
    return elapsed


async def _create_known_user(http_db: SessionMaker, helper: PasswordHelperProtocol) -> None:
    manager_class = make_user_manager_class(HookLog())
    async with http_db() as session:
        manager = manager_class(SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount), helper)
        await manager.create(UserCreate(email=KNOWN, password=PASSWORD))


@HELPERS
async def test_unknown_email_costs_one_verification_like_a_wrong_password(
    http_db: SessionMaker, make_helper: HelperFactory
) -> None:
    """After the first use, an unknown e-mail costs one verification and no hash, as a wrong password does."""
    helper = _own_class(make_helper)(fast_password_helper())
    await _create_known_user(http_db, helper)
    await _attempt(http_db, helper, UNKNOWN)  # the first use makes the helper's dummy hash
    helper.calls.clear()

    await _attempt(http_db, helper, KNOWN)
    known_calls = list(helper.calls)
    helper.calls.clear()
    await _attempt(http_db, helper, UNKNOWN)
    await _attempt(http_db, helper, "another-stranger@camelot.bt")

    assert known_calls == ["verify"]
    assert helper.calls == ["verify", "verify"]


@HELPERS
async def test_login_timing_with_a_custom_helper_overlaps(http_db: SessionMaker, make_helper: HelperFactory) -> None:
    """With production Argon2 costs and a custom helper, an unknown e-mail takes as long as a wrong password."""
    helper = _own_class(make_helper)(PasswordHelper())  # the real parameters: a second Argon2 run would show plainly
    await _create_known_user(http_db, helper)
    await _attempt(http_db, helper, UNKNOWN)  # warm the dummy hash

    known, unknown = await interleaved(
        lambda: _attempt(http_db, helper, KNOWN), lambda: _attempt(http_db, helper, UNKNOWN), rounds=7
    )

    # Two Argon2 runs against one would put the ratio near 2; one against one, near 1.
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.5, (known, unknown)
