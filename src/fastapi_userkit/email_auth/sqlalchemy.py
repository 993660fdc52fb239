"""SQLAlchemy implementations of the e-mail sign-in and e-mail change stores (SQLite, PostgreSQL, MariaDB/MySQL).

Each method is one short transaction on the session it is given, committed before it returns
(as :class:`~fastapi_userkit.db.SQLAlchemyUserDatabase` does). The decisions are conditional
``UPDATE`` statements whose row count is the answer: PostgreSQL re-checks the condition on the
latest row version after waiting for a concurrent writer's lock (READ COMMITTED), InnoDB's
``UPDATE`` reads the latest committed version under its row lock, and SQLite serialises
writers. So "unused, attempts left, not expired" holds for exactly as many requests as it
should, on one worker or many (the second-factor store, :mod:`fastapi_userkit.mfa.sqlalchemy`,
relies on the same property).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.email_auth.store import EmailChangeRecord, EmailSignInRecord
from fastapi_userkit.email_auth.tables import SQLAlchemyBaseEmailChangeTable, SQLAlchemyBaseEmailSignInTable

__all__ = ["SQLAlchemyEmailChangeStore", "SQLAlchemyEmailSignInStore"]

ST = TypeVar("ST", bound=SQLAlchemyBaseEmailSignInTable[Any])
CT = TypeVar("CT", bound=SQLAlchemyBaseEmailChangeTable[Any])

_BEGIN_ATTEMPTS = 5
_SIGN_IN_FIELDS = tuple(field.name for field in dataclasses.fields(EmailSignInRecord))
_CHANGE_FIELDS = tuple(field.name for field in dataclasses.fields(EmailChangeRecord))


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class _Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _commit(self, outcome: bool) -> bool:
        if outcome:
            await self.session.commit()
        else:
            await self.session.rollback()
        return outcome

    async def _one(self, statement: Any) -> Any | None:
        row = (await self.session.execute(statement)).one_or_none()
        await self.session.commit()  # end the read transaction: a later decision must see fresh rows
        return row


class SQLAlchemyEmailSignInStore(_Store, Generic[ST]):
    """Stores pending sign-ins by e-mail through an :class:`~sqlalchemy.ext.asyncio.AsyncSession`.

    Args:
        session: The request's session; every method commits it.
        table: The application's mapped sign-in class.
    """

    def __init__(self, session: AsyncSession, table: type[ST]) -> None:
        super().__init__(session)
        self.table = table

    @property
    def _t(self) -> Any:
        return self.table

    def _select(self) -> Any:
        return select(*(getattr(self._t, name) for name in _SIGN_IN_FIELDS))

    @staticmethod
    def _record(row: Any | None) -> EmailSignInRecord | None:
        return None if row is None else EmailSignInRecord(**row._asdict())

    async def begin(self, record: EmailSignInRecord) -> None:
        """Replace the address's sign-in by ``record``: one ``UPDATE`` of its row, or an ``INSERT``.

        The unique ``email_key`` keeps one row per address. Of concurrent requests for one
        address, an insert that loses the race finds the winner's row and updates it instead
        (waiting for the winner's commit on PostgreSQL and InnoDB), so each request's e-mail in
        turn becomes the one that works, as if they had come one after the other.
        """
        t = self._t
        values = dataclasses.asdict(record)
        failures = 0
        while True:
            try:
                replaced = await self.session.execute(
                    update(t)
                    .where(t.email_key == record.email_key)
                    .values(values)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(replaced) == 0:
                    await self.session.execute(insert(t).values(values))
                await self.session.commit()
                return
            except (IntegrityError, OperationalError):
                # A concurrent request inserted the address's row first (a unique violation), or
                # InnoDB chose this transaction as a deadlock victim (the gap locks of two
                # inserts of one key): start again, the row is there to update now. Bounded, so
                # a row the database can never take is an error, not an endless loop.
                await self.session.rollback()
                failures += 1
                if failures == _BEGIN_ATTEMPTS:
                    raise

    async def find_by_link(self, digests: Sequence[str]) -> EmailSignInRecord | None:
        """The sign-in whose link digest is one of ``digests`` (uses the unique index)."""
        return self._record(await self._one(self._select().where(self._t.link_digest.in_(list(digests)))))

    async def find_by_email(self, email_key: str) -> EmailSignInRecord | None:
        """The sign-in issued for ``email_key`` (uses the unique index)."""
        return self._record(await self._one(self._select().where(self._t.email_key == email_key)))

    async def count_attempt(self, sign_in: EmailSignInRecord, *, max_attempts: int) -> bool:
        """``attempts = attempts + 1`` where unused and below ``max_attempts`` (one conditional UPDATE)."""
        t = self._t
        result = await self.session.execute(
            update(t)
            .where(t.id == sign_in.id, t.used_at.is_(None), t.attempts < max_attempts)
            .values(attempts=t.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return await self._commit(_rowcount(result) == 1)

    async def consume(self, sign_in: EmailSignInRecord, *, now: datetime) -> bool:
        """``used_at = now`` where unused and not expired (one conditional UPDATE)."""
        t = self._t
        result = await self.session.execute(
            update(t)
            .where(t.id == sign_in.id, t.used_at.is_(None), t.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return await self._commit(_rowcount(result) == 1)

    async def delete_expired(self, *, now: datetime) -> int:
        """Delete the rows expired at ``now`` (uses the ``expires_at`` index)."""
        t = self._t
        result = await self.session.execute(
            delete(t).where(t.expires_at <= now).execution_options(synchronize_session=False)
        )
        await self.session.commit()
        return _rowcount(result)


class SQLAlchemyEmailChangeStore(_Store, Generic[CT]):
    """Stores e-mail changes through an :class:`~sqlalchemy.ext.asyncio.AsyncSession`.

    Args:
        session: The request's session; every method commits it.
        table: The application's mapped e-mail change class.
    """

    def __init__(self, session: AsyncSession, table: type[CT]) -> None:
        super().__init__(session)
        self.table = table

    @property
    def _t(self) -> Any:
        return self.table

    def _select(self) -> Any:
        return select(*(getattr(self._t, name) for name in _CHANGE_FIELDS))

    @staticmethod
    def _record(row: Any | None) -> EmailChangeRecord | None:
        return None if row is None else EmailChangeRecord(**row._asdict())

    def _cancel(self, user_id: Any, now: datetime) -> Any:
        t = self._t
        return (
            update(t)
            .where(t.user_id == user_id, t.confirmed_at.is_(None), t.cancelled_at.is_(None), t.closed_at.is_(None))
            .values(cancelled_at=now)
            .execution_options(synchronize_session=False)
        )

    async def begin(self, record: EmailChangeRecord) -> None:
        """Cancel the user's pending changes and insert ``record``, in one transaction."""
        await self.session.execute(self._cancel(record.user_id, record.created_at))
        await self.session.execute(insert(self._t).values(dataclasses.asdict(record)))
        await self.session.commit()

    async def cancel_pending(self, user_id: Any, *, now: datetime) -> bool:
        """Mark the user's pending changes cancelled (one UPDATE); whether one was open at ``now``."""
        result = await self.session.execute(self._cancel(user_id, now).where(self._t.confirm_expires_at > now))
        return await self._commit(_rowcount(result) > 0)

    async def find_by_confirm(self, digests: Sequence[str]) -> EmailChangeRecord | None:
        """The change whose confirmation digest is one of ``digests`` (uses the unique index)."""
        return self._record(await self._one(self._select().where(self._t.confirm_digest.in_(list(digests)))))

    async def find_by_revert(self, digests: Sequence[str]) -> EmailChangeRecord | None:
        """The change whose revert digest is one of ``digests`` (uses the unique index)."""
        return self._record(await self._one(self._select().where(self._t.revert_digest.in_(list(digests)))))

    async def pending_for(self, user_id: Any, *, now: datetime) -> EmailChangeRecord | None:
        """The user's newest pending change whose confirmation is open at ``now``."""
        t = self._t
        statement = (
            self._select()
            .where(
                t.user_id == user_id,
                t.confirmed_at.is_(None),
                t.cancelled_at.is_(None),
                t.closed_at.is_(None),
                t.confirm_expires_at > now,
            )
            .order_by(t.created_at.desc())
            .limit(1)
        )
        return self._record(await self._one(statement))

    async def confirm(self, change_id: uuid.UUID, *, now: datetime) -> bool:
        """``confirmed_at = now`` where pending and open (one conditional UPDATE)."""
        t = self._t
        result = await self.session.execute(
            update(t)
            .where(
                t.id == change_id,
                t.confirmed_at.is_(None),
                t.cancelled_at.is_(None),
                t.closed_at.is_(None),
                t.confirm_expires_at > now,
            )
            .values(confirmed_at=now)
            .execution_options(synchronize_session=False)
        )
        return await self._commit(_rowcount(result) == 1)

    async def revert(self, change_id: uuid.UUID, user_id: Any, *, now: datetime) -> bool:
        """Mark the change reverted (conditional UPDATE) and close the user's later changes, in one transaction."""
        t = self._t
        won = await self.session.execute(
            update(t)
            .where(t.id == change_id, t.closed_at.is_(None), t.revert_expires_at > now)
            .values(reverted_at=now, closed_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(won) != 1:
            return await self._commit(False)
        # Read apart (MariaDB refuses a subquery on the table an UPDATE writes).
        since = (await self.session.execute(select(t.created_at).where(t.id == change_id))).scalar_one()
        await self.session.execute(
            update(t)
            .where(t.user_id == user_id, t.closed_at.is_(None), t.created_at >= since)
            .values(closed_at=now)
            .execution_options(synchronize_session=False)
        )
        return await self._commit(True)

    async def delete_expired(self, *, now: datetime) -> int:
        """Delete the changes whose revert window closed at ``now`` (uses the ``revert_expires_at`` index)."""
        t = self._t
        result = await self.session.execute(
            delete(t).where(t.revert_expires_at <= now).execution_options(synchronize_session=False)
        )
        await self.session.commit()
        return _rowcount(result)
