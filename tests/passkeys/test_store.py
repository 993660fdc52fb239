"""The SQL passkey and challenge stores on SQLite, PostgreSQL and MariaDB: uniqueness, ownership, atomic decisions."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete, select, text

from fastapi_userkit.passkeys import (
    ChallengeRecord,
    PasskeyChallengeStore,
    PasskeyCredential,
    PasskeyCredentialStore,
    PasskeyService,
    SQLAlchemyPasskeyChallengeStore,
    SQLAlchemyPasskeyStore,
    challenge_digest,
)
from tests.conftest import SessionMaker
from tests.models import IntPasskey, IntPasskeyChallenge, IntUser, Passkey, PasskeyChallenge, User
from tests.passkeys.authenticator import SoftAuthenticator, b64u, unb64u
from tests.passkeys.conftest import ORIGIN, START, MakeUser, challenge_store, credential_store

CONCURRENCY = 10


def _passkey(user_id: object, credential_id: str = "cred-1", *, sign_count: int = 0) -> PasskeyCredential:
    return PasskeyCredential(
        id=uuid.uuid4(),
        user_id=user_id,
        credential_id=credential_id,
        public_key=b"\xa5\x01\x02",
        sign_count=sign_count,
        transports=("usb", "nfc"),
        backup_eligible=True,
        backed_up=False,
        aaguid="00000000-0000-0000-0000-000000000000",
        name="Key",
        created_at=START,
        last_used_at=None,
    )


def test_the_stores_satisfy_the_protocols(db: SessionMaker) -> None:
    """The SQL stores are a PasskeyCredentialStore and a PasskeyChallengeStore."""
    assert isinstance(credential_store(db), PasskeyCredentialStore)
    assert isinstance(challenge_store(db), PasskeyChallengeStore)


async def test_add_get_list_round_trip(db: SessionMaker, make_user: MakeUser) -> None:
    """A passkey is stored with every column and read back equal; listing is per user."""
    user_id, other = await make_user(), await make_user()
    store = credential_store(db)
    passkey = _passkey(user_id)

    added = await store.add(passkey)
    await store.add(_passkey(other, "cred-2"))

    assert added
    assert await store.get("cred-1") == passkey
    assert await store.get("missing") is None
    assert await store.list_for_user(user_id) == [passkey]


async def test_a_duplicate_credential_id_is_refused(db: SessionMaker, make_user: MakeUser) -> None:
    """The unique index refuses a second row with one credential id, for the same or another user."""
    user_id, other = await make_user(), await make_user()
    store = credential_store(db)
    await store.add(_passkey(user_id))

    again = await store.add(_passkey(user_id))
    foreign = await store.add(_passkey(other))

    assert (again, foreign) == (False, False)
    assert await store.list_for_user(other) == []


async def test_credential_ids_compare_case_sensitively(db: SessionMaker, make_user: MakeUser) -> None:
    """Two base64url ids differing only in case are two credentials (MariaDB's default collation would merge them)."""
    user_id = await make_user()
    store = credential_store(db)

    assert await store.add(_passkey(user_id, "AbC"))
    assert await store.add(_passkey(user_id, "abc"))
    assert await store.get("ABC") is None


async def test_the_longest_credential_id_fits(db: SessionMaker, make_user: MakeUser) -> None:
    """A 1023-byte credential id (1364 base64url characters) is stored and found."""
    user_id = await make_user()
    store = credential_store(db)
    long_id = b64u(b"\xff" * 1023)

    assert await store.add(_passkey(user_id, long_id))
    assert (await store.get(long_id)) is not None


async def test_record_use_only_moves_the_counter_forward(db: SessionMaker, make_user: MakeUser) -> None:
    """A use is stored only with a counter above the stored one; 0 is accepted only while the counter is 0."""
    user_id = await make_user()
    store = credential_store(db)
    await store.add(_passkey(user_id))
    later = START + timedelta(minutes=1)

    results = [
        await store.record_use("cred-1", sign_count=count, backed_up=True, now=later) for count in (0, 0, 5, 5, 4, 0, 6)
    ]

    assert results == [True, True, True, False, False, False, True]
    stored = await store.get("cred-1")
    assert stored is not None
    assert (stored.sign_count, stored.backed_up, stored.last_used_at) == (6, True, later)
    assert not await store.record_use("missing", sign_count=9, backed_up=False, now=later)


async def test_concurrent_uses_with_one_counter_have_one_winner(db: SessionMaker, make_user: MakeUser) -> None:
    """Ten concurrent uses with one counter value, each on its own connection: exactly one is stored."""
    user_id = await make_user()
    await credential_store(db).add(_passkey(user_id, sign_count=1))
    stores = [credential_store(db) for _ in range(CONCURRENCY)]

    results = await asyncio.gather(
        *(store.record_use("cred-1", sign_count=2, backed_up=False, now=START) for store in stores)
    )

    assert results.count(True) == 1
    for store in stores:
        await store.session.close()


async def test_rename_and_delete_are_scoped_to_the_owner(db: SessionMaker, make_user: MakeUser) -> None:
    """Only the owner renames or deletes a passkey; a rename to the same name still counts as done."""
    user_id, other = await make_user(), await make_user()
    store = credential_store(db)
    passkey = _passkey(user_id)
    await store.add(passkey)

    results = [
        await store.rename(other, passkey.id, "Stolen"),
        await store.rename(user_id, passkey.id, "Mine"),
        await store.rename(user_id, passkey.id, "Mine"),
        await store.delete(other, passkey.id),
    ]

    assert results == [False, True, True, False]
    assert await store.list_for_user(user_id) == [replace(passkey, name="Mine")]
    assert await store.delete(user_id, passkey.id)
    assert not await store.delete(user_id, passkey.id)


async def test_deleting_the_user_deletes_the_passkeys(db: SessionMaker, make_user: MakeUser) -> None:
    """The user_id foreign key cascades."""
    user_id = await make_user()
    await credential_store(db).add(_passkey(user_id))

    async with db() as session:
        if session.get_bind().dialect.name == "sqlite":  # SQLite enforces foreign keys only when told to
            await session.execute(text("PRAGMA foreign_keys = ON"))
        await session.execute(
            delete(User).where(User.__table__.c.id == user_id).execution_options(synchronize_session=False)
        )
        await session.commit()

    assert await credential_store(db).get("cred-1") is None


async def test_a_challenge_is_taken_once(db: SessionMaker) -> None:
    """take() returns the record once, then nothing."""
    store = challenge_store(db)
    record = ChallengeRecord("authentication", "42", START + timedelta(minutes=5))
    await store.put("digest", record, now=START)

    first = await store.take("digest")
    second = await store.take("digest")

    assert (first, second) == (record, None)


async def test_concurrent_takes_of_one_challenge_have_one_winner(db: SessionMaker) -> None:
    """Ten concurrent takes of one challenge, each on its own connection: exactly one gets it."""
    await challenge_store(db).put("digest", ChallengeRecord("registration", None, START), now=START)
    stores = [challenge_store(db) for _ in range(CONCURRENCY)]

    results = await asyncio.gather(*(store.take("digest") for store in stores))

    assert sum(result is not None for result in results) == 1
    for store in stores:
        await store.session.close()


async def test_put_purges_expired_challenges(db: SessionMaker) -> None:
    """Issuing a challenge deletes those already expired, so the table does not grow."""
    store = challenge_store(db)
    await store.put("old", ChallengeRecord("registration", None, START + timedelta(minutes=5)), now=START)
    await store.put("live", ChallengeRecord("registration", None, START + timedelta(minutes=9)), now=START)

    await store.put(
        "new", ChallengeRecord("registration", None, START + timedelta(minutes=11)), now=START + timedelta(minutes=6)
    )

    async with db() as session:
        digests = set((await session.execute(select(PasskeyChallenge.__table__.c.digest))).scalars())
    assert digests == {"live", "new"}


async def test_tables_hold_no_challenge_in_plaintext(
    db: SessionMaker, service: PasskeyService, make_user: MakeUser
) -> None:
    """After options are issued, the challenge table holds only their SHA-256 digests."""
    user_id = await make_user()
    registration = await service.registration_options(user_id, user_name="arthur")
    await service.verify_registration(user_id, SoftAuthenticator(ORIGIN).create(registration))
    issued = [
        (await service.registration_options(user_id, user_name="arthur"))["challenge"],
        (await service.authentication_options())["challenge"],
        (await service.authentication_options(user_id))["challenge"],
    ]

    async with db() as session:
        rows = (await session.execute(select(PasskeyChallenge.__table__))).all()
        passkeys = (await session.execute(select(Passkey.__table__))).all()
    dump = repr(rows) + repr(passkeys)
    assert {row.digest for row in rows} == {challenge_digest(unb64u(challenge)) for challenge in issued}
    assert not any(challenge in dump for challenge in [*issued, registration["challenge"]])


async def test_integer_id_tables(int_db: SessionMaker) -> None:
    """The plain mixins work with integer user ids: add, list, use, rename, delete, challenges."""
    async with int_db() as session:
        user = IntUser(email="arthur@camelot.bt", hashed_password="x")
        session.add(user)
        await session.commit()
        user_id = user.id
    store = SQLAlchemyPasskeyStore(int_db(), IntPasskey)
    challenges = SQLAlchemyPasskeyChallengeStore(int_db(), IntPasskeyChallenge)
    passkey = _passkey(user_id)

    assert await store.add(passkey)
    assert await store.record_use("cred-1", sign_count=1, backed_up=False, now=START)
    assert await store.rename(user_id, passkey.id, "Renamed")
    assert [item.name for item in await store.list_for_user(user_id)] == ["Renamed"]
    assert await store.delete(user_id, passkey.id)
    await challenges.put("d", ChallengeRecord("authentication", str(user_id), START), now=START)
    assert await challenges.take("d") == ChallengeRecord("authentication", str(user_id), START)
