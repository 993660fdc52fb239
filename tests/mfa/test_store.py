"""SQLAlchemyMFAStore on SQLite, PostgreSQL and MariaDB: enrolment, atomic step and code use, digests at rest."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import delete, select, text

from fastapi_userkit.mfa import MFAStore, SQLAlchemyMFAStore
from tests.conftest import SessionMaker
from tests.mfa.conftest import START, MakeUser, store_for
from tests.models import IntRecoveryCode, IntTOTPFactor, IntUser, RecoveryCode, User

CONCURRENCY = 10


async def _active(db: SessionMaker, user_id: uuid.UUID, *, step: int = 100, digests: tuple[str, ...] = ()) -> None:
    store = store_for(db)
    assert await store.begin_enrolment(user_id, "ciphertext", now=START)
    assert await store.confirm_enrolment(
        user_id, secret="ciphertext", step=step, now=START, recovery_digests=list(digests)
    )


def test_the_store_satisfies_the_protocol(db: SessionMaker) -> None:
    """SQLAlchemyMFAStore is an MFAStore (checked at wiring time, not by probing)."""
    assert isinstance(store_for(db), MFAStore)


async def test_enrolment_is_pending_until_confirmed(db: SessionMaker, make_user: MakeUser) -> None:
    """A begun enrolment is stored pending; confirming sets the time, the step and the codes."""
    user_id = await make_user()
    store = store_for(db)

    began = await store.begin_enrolment(user_id, "ciphertext", now=START)
    pending = await store.get_totp(user_id)
    confirmed = await store.confirm_enrolment(
        user_id, secret="ciphertext", step=7, now=START + timedelta(minutes=1), recovery_digests=["d1", "d2"]
    )
    active = await store.get_totp(user_id)

    assert began
    assert pending is not None
    assert (pending.active, pending.secret, pending.created_at, pending.last_step) == (False, "ciphertext", START, None)
    assert confirmed
    assert active is not None
    assert (active.active, active.confirmed_at, active.last_step) == (True, START + timedelta(minutes=1), 7)
    assert await store.count_remaining(user_id) == 2


async def test_begin_replaces_a_pending_enrolment_but_not_an_active_factor(
    db: SessionMaker, make_user: MakeUser
) -> None:
    """A second begin replaces a pending secret; with an active factor it is refused and changes nothing."""
    user_id = await make_user()
    store = store_for(db)
    await store.begin_enrolment(user_id, "first", now=START)

    replaced = await store.begin_enrolment(user_id, "second", now=START)
    await store.confirm_enrolment(user_id, secret="second", step=1, now=START, recovery_digests=[])
    refused = await store.begin_enrolment(user_id, "third", now=START)
    record = await store.get_totp(user_id)

    assert replaced
    assert not refused
    assert record is not None
    assert (record.secret, record.active) == ("second", True)


async def test_confirm_without_pending_enrolment_changes_nothing(db: SessionMaker, make_user: MakeUser) -> None:
    """Confirming with no pending factor (none, or already active) returns False and writes no code."""
    user_id = await make_user()
    store = store_for(db)

    nothing = await store.confirm_enrolment(user_id, secret="ciphertext", step=1, now=START, recovery_digests=["d"])
    await _active(db, user_id, digests=("a",))
    again = await store.confirm_enrolment(user_id, secret="ciphertext", step=2, now=START, recovery_digests=["b", "c"])

    assert not nothing
    assert not again
    assert await store.count_remaining(user_id) == 1


async def test_confirm_refuses_a_replaced_secret(db: SessionMaker, make_user: MakeUser) -> None:
    """Confirming with the ciphertext of a pending enrolment that was begun again since activates nothing."""
    user_id = await make_user()
    store = store_for(db)
    await store.begin_enrolment(user_id, "first", now=START)
    await store.begin_enrolment(user_id, "second", now=START)

    stale = await store.confirm_enrolment(user_id, secret="first", step=1, now=START, recovery_digests=["d"])

    record = await store.get_totp(user_id)
    assert not stale
    assert record is not None
    assert (record.secret, record.active) == ("second", False)
    assert await store.count_remaining(user_id) == 0


async def test_accept_step_only_moves_forward(db: SessionMaker, make_user: MakeUser) -> None:
    """A step after the last one is accepted once; the same or an older step is refused."""
    user_id = await make_user()
    store = store_for(db)
    await _active(db, user_id, step=100)

    results = [await store.accept_step(user_id, step) for step in (100, 99, 101, 101, 103, 102)]

    assert results == [False, False, True, False, True, False]
    record = await store.get_totp(user_id)
    assert record is not None
    assert record.last_step == 103


async def test_accept_step_refuses_a_pending_or_missing_factor(db: SessionMaker, make_user: MakeUser) -> None:
    """No step is accepted for a user without a factor or with an unconfirmed one."""
    user_id = await make_user()
    store = store_for(db)

    missing = await store.accept_step(user_id, 1)
    await store.begin_enrolment(user_id, "ciphertext", now=START)
    pending = await store.accept_step(user_id, 1)

    assert not missing
    assert not pending


async def test_concurrent_uses_of_one_step_have_exactly_one_winner(db: SessionMaker, make_user: MakeUser) -> None:
    """Ten concurrent accept_step calls with one step, each on its own connection: exactly one succeeds."""
    user_id = await make_user()
    await _active(db, user_id, step=100)
    stores = [store_for(db) for _ in range(CONCURRENCY)]

    results = await asyncio.gather(*(store.accept_step(user_id, 101) for store in stores))

    assert results.count(True) == 1
    for store in stores:
        await store.session.close()


async def test_recovery_codes_are_single_use(db: SessionMaker, make_user: MakeUser) -> None:
    """A digest is consumed once; the second use fails; the count goes down; another user cannot use it."""
    user_id, other = await make_user(), await make_user()
    await _active(db, user_id, digests=("d1", "d2"))
    store = store_for(db)

    first = await store.consume_recovery_code(user_id, ["d1"], now=START)
    second = await store.consume_recovery_code(user_id, ["d1"], now=START)
    foreign = await store.consume_recovery_code(other, ["d2"], now=START)

    assert (first, second, foreign) == (True, False, False)
    assert await store.count_remaining(user_id) == 1


async def test_any_listed_digest_spends_the_code(db: SessionMaker, make_user: MakeUser) -> None:
    """One of several digests (one per configured key) matching a stored one spends that code."""
    user_id = await make_user()
    await _active(db, user_id, digests=("old-key-digest",))
    store = store_for(db)

    assert await store.consume_recovery_code(user_id, ["new-key-digest", "old-key-digest"], now=START)
    assert await store.count_remaining(user_id) == 0


async def test_concurrent_uses_of_one_recovery_code_have_exactly_one_winner(
    db: SessionMaker, make_user: MakeUser
) -> None:
    """Ten concurrent uses of one recovery code, each on its own connection: exactly one succeeds."""
    user_id = await make_user()
    await _active(db, user_id, digests=("d1", "d2"))
    stores = [store_for(db) for _ in range(CONCURRENCY)]

    results = await asyncio.gather(*(store.consume_recovery_code(user_id, ["d1"], now=START) for store in stores))

    assert results.count(True) == 1
    assert await store_for(db).count_remaining(user_id) == 1
    for store in stores:
        await store.session.close()


async def test_replace_recovery_codes_invalidates_the_old_ones(db: SessionMaker, make_user: MakeUser) -> None:
    """After a replacement, old digests (used or not) are gone and only the new ones count."""
    user_id = await make_user()
    await _active(db, user_id, digests=("old1", "old2"))
    store = store_for(db)
    await store.consume_recovery_code(user_id, ["old1"], now=START)

    await store.replace_recovery_codes(user_id, ["new1", "new2", "new3"], now=START)

    assert not await store.consume_recovery_code(user_id, ["old2"], now=START)
    assert await store.count_remaining(user_id) == 3
    async with db() as session:
        stored = set((await session.execute(select(RecoveryCode.__table__.c.digest))).scalars())
    assert stored == {"new1", "new2", "new3"}


async def test_digests_compare_case_sensitively(db: SessionMaker, make_user: MakeUser) -> None:
    """A digest differing only in case is another digest (MariaDB's default collation would ignore case)."""
    user_id = await make_user()
    await _active(db, user_id, digests=("AbC",))

    assert not await store_for(db).consume_recovery_code(user_id, ["abc"], now=START)


async def test_replace_secret_is_conditional(db: SessionMaker, make_user: MakeUser) -> None:
    """The ciphertext is swapped only while the expected old value is stored."""
    user_id = await make_user()
    await _active(db, user_id)
    store = store_for(db)

    swapped = await store.replace_secret(user_id, "ciphertext", "rotated")
    stale = await store.replace_secret(user_id, "ciphertext", "other")

    record = await store.get_totp(user_id)
    assert (swapped, stale) == (True, False)
    assert record is not None
    assert record.secret == "rotated"


async def test_remove_deletes_the_factor_and_codes(db: SessionMaker, make_user: MakeUser) -> None:
    """remove() deletes the factor and every code of the user, and says whether there was a factor."""
    user_id, other = await make_user(), await make_user()
    await _active(db, user_id, digests=("d1",))
    await _active(db, other, digests=("d2",))
    store = store_for(db)

    removed = await store.remove(user_id)
    again = await store.remove(user_id)

    assert (removed, again) == (True, False)
    assert await store.get_totp(user_id) is None
    assert await store.count_remaining(user_id) == 0
    assert await store.count_remaining(other) == 1


async def test_deleting_the_user_deletes_the_factor(db: SessionMaker, make_user: MakeUser) -> None:
    """The user_id foreign keys cascade: deleting a user row takes its factor and codes with it."""
    user_id = await make_user()
    await _active(db, user_id, digests=("d1",))

    async with db() as session:
        if session.get_bind().dialect.name == "sqlite":  # SQLite enforces foreign keys only when told to
            await session.execute(text("PRAGMA foreign_keys = ON"))
        await session.execute(
            delete(User).where(User.__table__.c.id == user_id).execution_options(synchronize_session=False)
        )
        await session.commit()

    store = store_for(db)
    assert await store.get_totp(user_id) is None
    assert await store.count_remaining(user_id) == 0


async def test_integer_id_tables(int_db: SessionMaker) -> None:
    """The plain mixins work with integer user ids: enrol, confirm, accept a step, spend a code."""
    async with int_db() as session:
        user = IntUser(email="arthur@camelot.bt", hashed_password="x")
        session.add(user)
        await session.commit()
        user_id = user.id
    store = SQLAlchemyMFAStore(int_db(), IntTOTPFactor, IntRecoveryCode)

    await store.begin_enrolment(user_id, "ciphertext", now=START)
    await store.confirm_enrolment(user_id, secret="ciphertext", step=1, now=START, recovery_digests=["d1"])

    assert await store.accept_step(user_id, 2)
    assert await store.consume_recovery_code(user_id, ["d1"], now=START)
    assert await store.count_remaining(user_id) == 0
