"""The one rule for the first proof of a never-verified address (issue 20): e-mail sign-in and password reset.

Someone registers an address they do not own, with a password, a second factor and an OAuth
account of theirs, and waits. Whichever way the owner first proves the address (the first e-mail
sign-in, or a password reset: its link was mailed to the address), all of it goes, and the
account is verified. A reset keeps the password the owner just chose; the verify route (a user
verifying their own address) keeps everything.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit import exceptions
from fastapi_userkit._contracts import SecondFactorRemoving
from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.email_auth import EmailAuthMailer, EmailSignInService, SQLAlchemyEmailSignInStore
from fastapi_userkit.mfa import MFAStore, SQLAlchemyMFAStore
from fastapi_userkit.security.events import SecurityEventType
from fastapi_userkit.testing import Outbox
from tests.conftest import SessionMaker
from tests.email_auth.conftest import Clock, Log, RecordingManager, SignInClient, code_of
from tests.email_auth.test_sign_in_http import OWNER, SQUATTER_PASSWORD
from tests.models import EmailSignIn, OAuthAccount, RecoveryCode, TOTPFactor, User

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
OWNER_PASSWORD = "round-table-in-spring-9"


class _Sessions:
    """Opens the sessions of one test and closes them all at its end (a session left open holds
    locks that would block the next test's schema reset on PostgreSQL and MariaDB)."""

    def __init__(self, session_maker: SessionMaker) -> None:
        self.session_maker = session_maker
        self.opened: list[AsyncSession] = []

    def new(self) -> AsyncSession:
        session = self.session_maker()
        self.opened.append(session)
        return session

    async def close(self) -> None:
        for session in self.opened:
            await session.close()


@pytest.fixture
async def sessions(db: SessionMaker) -> AsyncIterator[_Sessions]:
    """The test's sessions on every database, closed at its end."""
    opened = _Sessions(db)
    yield opened
    await opened.close()


class _Manager(RecordingManager):
    """Keeps the last reset and verification tokens its hooks were given (what the e-mails would carry)."""

    token = ""

    async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
        """Keep the reset token."""
        self.token = token

    async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
        """Keep the verification token."""
        self.token = token

    async def reset_token(self, user_id: uuid.UUID) -> str:
        """A reset link's token for the user, as ``/forgot-password`` mails it."""
        await self.forgot_password(await self.get(user_id))
        return self.token


def _manager(sessions: _Sessions, log: Log) -> _Manager:
    return _Manager(SQLAlchemyUserDatabase(sessions.new(), User, OAuthAccount), log)


def _mfa_store(sessions: _Sessions) -> SQLAlchemyMFAStore[TOTPFactor, RecoveryCode]:
    return SQLAlchemyMFAStore(sessions.new(), TOTPFactor, RecoveryCode)


async def _squat(db: _Sessions, log: Log) -> uuid.UUID:
    """The registrant's account: a password, a confirmed TOTP factor with recovery codes, an OAuth account."""
    manager = _manager(db, log)
    hashed = manager.password_helper.hash(SQUATTER_PASSWORD)
    user = await manager.user_db.create({"email": OWNER, "hashed_password": hashed})
    account = {"oauth_name": "google", "access_token": "t", "account_id": "mordred", "account_email": OWNER}
    await manager.user_db.add_oauth_account(user, account)
    store = _mfa_store(db)
    assert await store.begin_enrolment(user.id, "ciphertext", now=NOW)
    assert await store.confirm_enrolment(
        user.id, secret="ciphertext", step=1, now=NOW, recovery_digests=[f"d{i}" for i in range(10)]
    )
    return user.id


async def _left(db: _Sessions, user_id: uuid.UUID) -> tuple[User, bool, int, bool]:
    """The user, whether a TOTP factor is left, how many recovery codes, whether the OAuth account still links."""
    store = _mfa_store(db)
    async with db.session_maker() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        user = await user_db.get(user_id)
        linked = await user_db.get_by_oauth_account("google", "mordred")
    assert user is not None
    return user, await store.get_totp(user_id) is not None, await store.count_remaining(user_id), linked is not None


def test_the_two_factor_store_is_a_second_factor_remover() -> None:
    """The declared protocol is what the two-factor store offers (no probe at run time)."""
    assert issubclass(SQLAlchemyMFAStore, SecondFactorRemoving)
    assert issubclass(MFAStore, SecondFactorRemoving)


@pytest.mark.parametrize("wiring", ["manager", "argument"])
async def test_a_reset_of_a_never_verified_account_takes_it_back(sessions: _Sessions, log: Log, wiring: str) -> None:
    """The owner's reset keeps their new password, verifies the address, removes the registrant's factor and OAuth.

    Through the manager's ``second_factors`` (``reset_password``) or given to ``prove_address``.
    """
    user_id = await _squat(sessions, log)
    manager = _manager(sessions, log)
    if wiring == "manager":
        manager.second_factors = _mfa_store(sessions)
    token = await manager.reset_token(user_id)
    hashed = manager.password_helper.hash(OWNER_PASSWORD)
    if wiring == "manager":
        reset = await manager.reset_password(token, OWNER_PASSWORD)
    else:
        redeemed = await manager.user_db.update(await manager.get(user_id), {"hashed_password": hashed})
        reset = await manager.prove_address(
            redeemed, via="reset_password", keep_password=True, second_factors=_mfa_store(sessions)
        )
    assert reset.is_verified

    stored, totp, codes, linked = await _left(sessions, user_id)
    assert stored.is_verified
    assert (totp, codes, linked) == (False, 0, False)
    assert manager.password_helper.verify_and_update(OWNER_PASSWORD, stored.hashed_password)[0]
    assert not manager.password_helper.verify_and_update(SQUATTER_PASSWORD, stored.hashed_password)[0]
    proofs = [e for e in log.events if e.type == SecurityEventType.VERIFICATION_COMPLETED]
    assert proofs[-1].details == {"via": "reset_password", "first_proof": "registrant_login_cleared"}
    assert "verify" in log.hooks


async def test_a_reset_of_a_verified_account_keeps_its_factor(sessions: _Sessions, log: Log) -> None:
    """A verified user's reset changes the password only: their own second factor stays."""
    user_id = await _squat(sessions, log)
    manager = _manager(sessions, log)
    await manager.user_db.update(await manager.get(user_id), {"is_verified": True})
    manager.second_factors = _mfa_store(sessions)
    await manager.reset_password(await manager.reset_token(user_id), OWNER_PASSWORD)

    _, totp, codes, linked = await _left(sessions, user_id)
    assert (totp, codes, linked) == (True, 10, True)
    assert "verify" not in log.hooks


async def test_the_verify_route_keeps_the_user_s_own_factor_and_password(sessions: _Sessions, log: Log) -> None:
    """Verifying one's own address is not a takeover: password, factor and OAuth account stay."""
    user_id = await _squat(sessions, log)
    manager = _manager(sessions, log)
    manager.second_factors = _mfa_store(sessions)
    await manager.request_verify(await manager.get(user_id))
    await manager.verify(manager.token)

    stored, totp, codes, linked = await _left(sessions, user_id)
    assert stored.is_verified
    assert has_usable_password(stored.hashed_password)
    assert (totp, codes, linked) == (True, 10, True)


async def test_a_used_reset_link_cannot_prove_the_address_twice(sessions: _Sessions, log: Log) -> None:
    """The reset link is single use: the second use fails before anything is cleared again."""
    user_id = await _squat(sessions, log)
    manager = _manager(sessions, log)
    token = await manager.reset_token(user_id)
    await manager.reset_password(token, OWNER_PASSWORD)
    with pytest.raises(exceptions.InvalidResetPasswordToken):
        await manager.reset_password(token, "another-password-77")


@pytest.mark.parametrize("wiring", ["manager", "service"])
async def test_the_first_e_mail_sign_in_removes_the_registrant_s_second_factor(
    sessions: _Sessions, log: Log, mailer: EmailAuthMailer, outbox: Outbox, wiring: str
) -> None:
    """The owner is not asked for a factor they never had: the registrant's TOTP and codes go."""
    user_id = await _squat(sessions, log)
    clock = Clock()
    async with sessions.session_maker() as session:
        manager = RecordingManager(SQLAlchemyUserDatabase(session, User, OAuthAccount), log)
        settings = SignInClient(sessions.session_maker, log, mailer, clock).settings
        store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
        if wiring == "manager":
            manager.second_factors = _mfa_store(sessions)
            service = EmailSignInService(store, manager, settings, mailer, clock=clock)
        else:
            service = EmailSignInService(
                store, manager, settings, mailer, clock=clock, second_factors=_mfa_store(sessions)
            )
        await service.request(OWNER)
        result = await service.complete_by_code(OWNER, code_of(outbox.last()))
    assert result.password_cleared
    assert result.verified

    stored, totp, codes, linked = await _left(sessions, user_id)
    assert stored.is_verified
    assert not has_usable_password(stored.hashed_password)
    assert (totp, codes, linked) == (False, 0, False)
