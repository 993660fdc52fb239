"""The SQLAlchemy stores on SQLite, PostgreSQL and MariaDB: one row per address, atomic uses, integer ids."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from fastapi_userkit.email_auth import (
    EmailChangeRecord,
    EmailChangeStore,
    EmailSignInRecord,
    EmailSignInStore,
    SQLAlchemyEmailChangeStore,
    SQLAlchemyEmailSignInStore,
)
from tests.conftest import SessionMaker
from tests.email_auth.conftest import START, MakeUser
from tests.models import EmailChange, EmailSignIn, IntEmailChange, IntEmailSignIn, IntUser

CONCURRENCY = 8


def _sign_in(key: str = "key", *, user_id: Any = None, link: str | None = None) -> EmailSignInRecord:
    return EmailSignInRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        email="someone@camelot.bt",
        email_key=key,
        sign_up=False,
        link_digest=link or uuid.uuid4().hex,
        code_digest="code",
        created_at=START,
        expires_at=START + timedelta(minutes=10),
    )


def _change(user_id: Any, *, minutes: int = 0) -> EmailChangeRecord:
    created = START + timedelta(minutes=minutes)
    return EmailChangeRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        old_email="old@camelot.bt",
        new_email="new@camelot.bt",
        confirm_digest=uuid.uuid4().hex,
        revert_digest=uuid.uuid4().hex,
        created_at=created,
        confirm_expires_at=created + timedelta(hours=1),
        revert_expires_at=created + timedelta(days=7),
    )


def test_the_stores_satisfy_their_protocols(db: SessionMaker) -> None:
    """Both SQLAlchemy stores are instances of their declared protocols."""
    assert isinstance(SQLAlchemyEmailSignInStore(db(), EmailSignIn), EmailSignInStore)
    assert isinstance(SQLAlchemyEmailChangeStore(db(), EmailChange), EmailChangeStore)


async def test_concurrent_requests_for_one_address_leave_one_row(db: SessionMaker) -> None:
    """Simultaneous begins for one address key end with exactly one stored sign-in."""
    records = [_sign_in() for _ in range(CONCURRENCY)]

    async def begin(record: EmailSignInRecord) -> None:
        async with db() as session:
            await SQLAlchemyEmailSignInStore(session, EmailSignIn).begin(record)

    await asyncio.gather(*(begin(record) for record in records))
    async with db() as session:
        found = await SQLAlchemyEmailSignInStore(session, EmailSignIn).find_by_email("key")

    assert found is not None
    assert found.id in {record.id for record in records}


async def test_concurrent_uses_consume_once(db: SessionMaker) -> None:
    """Of simultaneous consumes of one sign-in, exactly one succeeds; an expired one is never consumed."""
    record = _sign_in()
    async with db() as session:
        await SQLAlchemyEmailSignInStore(session, EmailSignIn).begin(record)

    async def consume() -> bool:
        async with db() as session:
            return await SQLAlchemyEmailSignInStore(session, EmailSignIn).consume(record, now=START)

    outcomes = await asyncio.gather(*(consume() for _ in range(CONCURRENCY)))
    expired = _sign_in("other")
    async with db() as session:
        store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
        await store.begin(expired)
        late = await store.consume(expired, now=expired.expires_at)

    assert outcomes.count(True) == 1
    assert not late


async def test_a_user_sign_in_and_changes_on_integer_ids(int_db: SessionMaker) -> None:
    """The plain mixins work with integer user ids: store, find, revert and housekeeping."""
    async with int_db() as session:
        user = IntUser(email="int@camelot.bt", hashed_password="x")
        session.add(user)
        await session.commit()
        user_id = user.id
    async with int_db() as session:
        sign_ins = SQLAlchemyEmailSignInStore(session, IntEmailSignIn)
        changes = SQLAlchemyEmailChangeStore(session, IntEmailChange)
        record = _sign_in(user_id=user_id, link="link")
        await sign_ins.begin(record)
        first, second = _change(user_id), _change(user_id, minutes=1)
        await changes.begin(first)
        await changes.begin(second)

        found = await sign_ins.find_by_link(["nope", "link"])
        reverted = await changes.revert(first.id, user_id, now=START + timedelta(minutes=2))
        again = await changes.revert(second.id, user_id, now=START + timedelta(minutes=2))
        closed = await changes.find_by_revert([second.revert_digest])
        expired = await changes.delete_expired(now=START + timedelta(days=8))

    assert found is not None
    assert found.user_id == user_id
    assert reverted
    assert not again  # the revert of a change closed the later one
    assert closed is not None
    assert (closed.cancelled_at, closed.closed_at) == (None, START + timedelta(minutes=2))
    assert expired == 2


async def test_pending_is_the_newest_open_change(db: SessionMaker, make_user: MakeUser) -> None:
    """pending_for gives the newest pending change, and nothing once it is confirmed or expired."""
    user = await make_user()
    first, second = _change(user.id), _change(user.id, minutes=1)
    async with db() as session:
        store = SQLAlchemyEmailChangeStore(session, EmailChange)
        await store.begin(first)
        await store.begin(second)
        pending = await store.pending_for(user.id, now=START + timedelta(minutes=2))
        late = await store.pending_for(user.id, now=START + timedelta(hours=2))
        confirmed_old = await store.confirm(first.id, now=START + timedelta(minutes=2))
        confirmed = await store.confirm(second.id, now=START + timedelta(minutes=2))
        after = await store.pending_for(user.id, now=START + timedelta(minutes=2))

    assert pending is not None
    assert pending.id == second.id
    assert late is None
    assert (confirmed_old, confirmed) == (False, True)
    assert after is None


async def test_a_row_the_database_refuses_is_an_error_not_an_endless_retry(db: SessionMaker) -> None:
    """A sign-in the database can never store (a NULL address) raises after the bounded retries."""
    refused = dataclasses.replace(_sign_in(), email=None)  # type: ignore[arg-type]  # what the database refuses

    async with db() as session:
        with pytest.raises(IntegrityError):
            await SQLAlchemyEmailSignInStore(session, EmailSignIn).begin(refused)
