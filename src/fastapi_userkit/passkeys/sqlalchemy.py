"""The SQLAlchemy implementations of the passkey stores (SQLite, PostgreSQL, MariaDB/MySQL).

Each method is one short transaction on the session it is given, committed before it returns,
as :class:`~fastapi_userkit.mfa.SQLAlchemyMFAStore` does. The decisions are single statements
whose row count is the answer: the unique index on ``credential_id`` refuses a second
registration of one credential; a challenge is taken by the one ``DELETE`` that removes its row
(PostgreSQL and InnoDB make a concurrent ``DELETE`` of the same row wait and then find it gone;
SQLite serialises writers); a counter moves only through an ``UPDATE`` conditioned on being above
the stored one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.passkeys.exceptions import PasskeyLastLoginMethod
from fastapi_userkit.passkeys.store import (
    ChallengePurpose,
    ChallengeRecord,
    PasskeyCredential,
    transports_from_text,
    transports_to_text,
)
from fastapi_userkit.passkeys.tables import SQLAlchemyBasePasskeyChallengeTable, SQLAlchemyBasePasskeyTable

__all__ = ["SQLAlchemyPasskeyChallengeStore", "SQLAlchemyPasskeyStore"]

PT = TypeVar("PT", bound=SQLAlchemyBasePasskeyTable[Any])
CT = TypeVar("CT", bound=SQLAlchemyBasePasskeyChallengeTable)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class SQLAlchemyPasskeyStore(Generic[PT]):
    """Stores passkeys through an :class:`~sqlalchemy.ext.asyncio.AsyncSession`.

    Args:
        session: The request's session; every method commits it (or rolls it back).
        table: The application's mapped passkey class.
    """

    def __init__(self, session: AsyncSession, table: type[PT]) -> None:
        self.session = session
        self.table = table

    @property
    def _t(self) -> Any:
        return self.table

    def _columns(self) -> tuple[Any, ...]:
        t = self._t
        return (
            t.id,
            t.user_id,
            t.credential_id,
            t.public_key,
            t.sign_count,
            t.transports,
            t.backup_eligible,
            t.backed_up,
            t.aaguid,
            t.name,
            t.created_at,
            t.last_used_at,
        )

    @staticmethod
    def _record(row: Any) -> PasskeyCredential:
        return PasskeyCredential(
            id=row.id,
            user_id=row.user_id,
            credential_id=row.credential_id,
            public_key=bytes(row.public_key),
            sign_count=int(row.sign_count),
            transports=transports_from_text(row.transports),
            backup_eligible=bool(row.backup_eligible),
            backed_up=bool(row.backed_up),
            aaguid=row.aaguid,
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )

    async def _commit(self, outcome: bool) -> bool:
        if outcome:
            await self.session.commit()
        else:
            await self.session.rollback()
        return outcome

    async def list_for_user(self, user_id: Any) -> list[PasskeyCredential]:
        """The user's passkeys, oldest first (columns read, so no cached object is returned stale)."""
        t = self._t
        statement = select(*self._columns()).where(t.user_id == user_id).order_by(t.created_at, t.id)
        rows = (await self.session.execute(statement)).all()
        await self.session.commit()  # end the read transaction: a later decision must see fresh rows
        return [self._record(row) for row in rows]

    async def get(self, credential_id: str) -> PasskeyCredential | None:
        """The passkey with this credential id (uses the unique index), or ``None``."""
        statement = select(*self._columns()).where(self._t.credential_id == credential_id)
        row = (await self.session.execute(statement)).one_or_none()
        await self.session.commit()
        return None if row is None else self._record(row)

    async def add(self, credential: PasskeyCredential) -> bool:
        """Insert the passkey; the unique index on ``credential_id`` refuses a duplicate (``False``)."""
        values = {
            "id": credential.id,
            "user_id": credential.user_id,
            "credential_id": credential.credential_id,
            "public_key": credential.public_key,
            "sign_count": credential.sign_count,
            "transports": transports_to_text(credential.transports),
            "backup_eligible": credential.backup_eligible,
            "backed_up": credential.backed_up,
            "aaguid": credential.aaguid,
            "name": credential.name,
            "created_at": credential.created_at,
            "last_used_at": credential.last_used_at,
        }
        try:
            # The database decides, not a prior read: two concurrent registrations of one
            # credential id give one row (WebAuthn L3 7.1 step 26).
            await self.session.execute(insert(self._t).values(**values))
        except IntegrityError:
            return await self._commit(False)
        return await self._commit(True)

    async def rename(self, user_id: Any, id: uuid.UUID, name: str) -> bool:
        """Rename the user's passkey ``id`` (another user's passkey is not found)."""
        t = self._t
        result = await self.session.execute(
            update(t)
            .where(t.id == id, t.user_id == user_id)
            .values(name=name)
            .execution_options(synchronize_session=False)
        )
        # Matched rows, also on MariaDB (SQLAlchemy's MySQL dialects set CLIENT.FOUND_ROWS), so a
        # rename to the same name counts as done.
        return await self._commit(_rowcount(result) == 1)

    async def delete(self, user_id: Any, id: uuid.UUID, *, unless_last: bool = False) -> bool:
        """Delete the user's passkey ``id`` (another user's passkey is not found).

        Raises:
            PasskeyLastLoginMethod: ``unless_last`` and it is the user's only passkey. The count is
                taken under a write lock on the user's passkeys, so two concurrent deletions of a
                user's last two passkeys cannot both pass it.
        """
        t = self._t
        if unless_last:
            # A no-op UPDATE takes the row locks on PostgreSQL and MariaDB and the database write
            # lock on SQLite: a concurrent deletion of another of the user's passkeys waits here
            # until this one commits, then counts what is left (the rule of remove_oauth_account).
            await self.session.execute(
                update(t).where(t.user_id == user_id).values(name=t.name).execution_options(synchronize_session=False)
            )
            # A locking read sees the latest committed rows, even under MariaDB's REPEATABLE READ.
            ids = [
                row.id
                for row in (await self.session.execute(select(t.id).where(t.user_id == user_id).with_for_update()))
            ]
            if id in ids and len(ids) == 1:
                await self.session.rollback()
                raise PasskeyLastLoginMethod
        result = await self.session.execute(
            delete(t).where(t.id == id, t.user_id == user_id).execution_options(synchronize_session=False)
        )
        return await self._commit(_rowcount(result) == 1)

    async def record_use(self, credential_id: str, *, sign_count: int, backed_up: bool, now: datetime) -> bool:
        """Store a use if ``sign_count`` is above the stored counter, or both are 0 (one conditional ``UPDATE``)."""
        t = self._t
        # A counter of 0 means the authenticator keeps none: accepted only while the stored one is 0 too.
        moves_forward = t.sign_count == 0 if sign_count == 0 else t.sign_count < sign_count
        result = await self.session.execute(
            update(t)
            .where(t.credential_id == credential_id, moves_forward)
            .values(sign_count=sign_count, backed_up=backed_up, last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return await self._commit(_rowcount(result) == 1)


class SQLAlchemyPasskeyChallengeStore(Generic[CT]):
    """Keeps challenge digests in the application's ``passkey_challenge`` table.

    Args:
        session: The request's session; every method commits it.
        table: The application's mapped challenge class.
    """

    def __init__(self, session: AsyncSession, table: type[CT]) -> None:
        self.session = session
        self.table = table

    @property
    def _t(self) -> Any:
        return self.table

    async def put(self, digest: str, record: ChallengeRecord, *, now: datetime) -> None:
        """Insert the challenge's digest, and delete the expired ones (the table stays small)."""
        t = self._t
        await self.session.execute(delete(t).where(t.expires_at <= now).execution_options(synchronize_session=False))
        await self.session.execute(
            insert(t).values(
                digest=digest,
                purpose=record.purpose,
                user_key=record.user_key,
                expires_at=record.expires_at,
                payload=record.payload,
            )
        )
        await self.session.commit()

    async def take(self, digest: str) -> ChallengeRecord | None:
        """Read the challenge, then delete it: only the caller whose ``DELETE`` removed the row gets it."""
        t = self._t
        row = (
            await self.session.execute(select(t.purpose, t.user_key, t.expires_at, t.payload).where(t.digest == digest))
        ).one_or_none()
        if row is None:
            await self.session.rollback()
            return None
        result = await self.session.execute(
            delete(t).where(t.digest == digest).execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:  # a concurrent answer took it between our read and our delete
            await self.session.rollback()
            return None
        await self.session.commit()
        return ChallengeRecord(cast(ChallengePurpose, row.purpose), row.user_key, row.expires_at, row.payload)
