"""The manager's settings by constructor (issue 17), and the class attributes they supersede (compat).

``password_policy`` and ``mailer`` are keyword-only constructor arguments; not given, the class
attribute stands, so an application that sets them on its subclass keeps working. The token
settings (FastAPI Users' class attributes) are read at each call.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fastapi_userkit import BaseUserManager, UUIDIDMixin, exceptions
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.mail import AccountMailer, OutboxMailer
from fastapi_userkit.security import PasswordPolicy
from tests.app_factory import SECRET, UserCreate, fast_password_helper
from tests.conftest import EngineFactory, reset_schema
from tests.models import Base, OAuthAccount, User

STRICT = PasswordPolicy(min_length=20)
SHORT = "grail-1191"  # 10 code points: the default policy accepts it, STRICT refuses it


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """The documented subclass: secrets as class attributes, nothing else."""

    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


class StrictUserManager(UserManager):
    """An application that configured its policy the earlier documented way."""

    password_policy = STRICT


@pytest.fixture
async def session(engine_for: EngineFactory) -> AsyncIterator[AsyncSession]:
    """A session on a fresh SQLite schema."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, Base.metadata)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session


def _user_db(session: AsyncSession) -> SQLAlchemyUserDatabase[User, uuid.UUID]:
    return SQLAlchemyUserDatabase(session, User, OAuthAccount)


async def test_password_policy_by_constructor_applies_to_that_manager_only(session: AsyncSession) -> None:
    """password_policy=... refuses what the default accepts, for that instance; the class keeps its default."""
    strict = UserManager(_user_db(session), fast_password_helper(), password_policy=STRICT)
    default = UserManager(_user_db(session), fast_password_helper())

    with pytest.raises(exceptions.InvalidPasswordException):
        await strict.create(UserCreate(email="kay@camelot.bt", password=SHORT))
    user = await default.create(UserCreate(email="kay@camelot.bt", password=SHORT))

    assert user.email == "kay@camelot.bt"
    assert UserManager.password_policy is not STRICT


async def test_password_policy_none_by_constructor_turns_rules_and_size_guard_off(session: AsyncSession) -> None:
    """password_policy=None overrides a subclass's class attribute: no rules and no byte cap."""
    manager = StrictUserManager(_user_db(session), fast_password_helper(), password_policy=None)

    user = await manager.create(UserCreate(email="kay@camelot.bt", password="x" * 2000))

    assert user.email == "kay@camelot.bt"


async def test_a_subclass_policy_stands_when_the_constructor_is_not_given_one(session: AsyncSession) -> None:
    """Compat: the class attribute set by the application is the policy when the argument is omitted."""
    manager = StrictUserManager(_user_db(session), fast_password_helper())

    with pytest.raises(exceptions.InvalidPasswordException):
        await manager.create(UserCreate(email="kay@camelot.bt", password=SHORT))


async def test_mailer_by_constructor_sends_the_account_emails(session: AsyncSession) -> None:
    """mailer=... makes the default hooks send the reset e-mail; another instance without it sends none."""
    outbox = OutboxMailer()
    mailer = AccountMailer(outbox, sender="no-reply@camelot.bt", reset_url="https://camelot.bt/r?t={token}")
    mailing = UserManager(_user_db(session), fast_password_helper(), mailer=mailer)
    silent = UserManager(_user_db(session), fast_password_helper())
    user = await silent.create(UserCreate(email="kay@camelot.bt", password="a long passphrase"))

    await silent.forgot_password(user)
    assert outbox.messages == []
    await mailing.forgot_password(user)

    assert [message["To"] for message in outbox.messages] == ["kay@camelot.bt"]
    assert UserManager.mailer is None


async def test_mailer_none_by_constructor_silences_a_class_mailer(session: AsyncSession) -> None:
    """mailer=None overrides a subclass's class attribute."""
    outbox = OutboxMailer()

    class MailingUserManager(UserManager):
        mailer = AccountMailer(outbox, sender="no-reply@camelot.bt", reset_url="https://camelot.bt/r?t={token}")

    manager = MailingUserManager(_user_db(session), fast_password_helper(), mailer=None)
    user = await manager.create(UserCreate(email="kay@camelot.bt", password="a long passphrase"))

    await manager.forgot_password(user)

    assert outbox.messages == []


async def test_token_settings_changed_on_the_instance_are_followed(session: AsyncSession) -> None:
    """An audience set on the instance after construction is the one tokens carry and are checked against."""
    manager = UserManager(_user_db(session), fast_password_helper())
    user = await manager.create(UserCreate(email="kay@camelot.bt", password="a long passphrase"))
    tokens: list[str] = []

    async def keep(user: User, token: str, request: object = None) -> None:
        tokens.append(token)

    manager.on_after_request_verify = keep  # type: ignore[method-assign]
    await manager.request_verify(user)
    manager.verification_token_audience = "camelot:verify"
    await manager.request_verify(user)

    with pytest.raises(exceptions.InvalidVerifyToken):
        await manager.verify(tokens[0])
    verified = await manager.verify(tokens[1])
    assert verified.is_verified
