"""The SQLAlchemy implementation of :class:`~fastapi_userkit.mfa.MFAStore` (SQLite, PostgreSQL, MariaDB/MySQL).

Each method is one short transaction on the session it is given, committed before it returns
(as :class:`~fastapi_userkit.db.SQLAlchemyUserDatabase` does). The decisions are conditional
``UPDATE`` statements whose row count is the answer: PostgreSQL re-checks the condition on the
latest row version after waiting for a concurrent writer's lock (READ COMMITTED), InnoDB's
``UPDATE`` reads the latest committed version under its row lock whatever the isolation level,
and SQLite serialises writers. So the condition "this step is after the last accepted one"
holds for exactly one of several concurrent requests, on one worker or many.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.mfa.store import TOTPRecord
from fastapi_userkit.mfa.tables import SQLAlchemyBaseRecoveryCodeTable, SQLAlchemyBaseTOTPTable

__all__ = ["SQLAlchemyMFAStore"]

TT = TypeVar("TT", bound=SQLAlchemyBaseTOTPTable[Any])
RT = TypeVar("RT", bound=SQLAlchemyBaseRecoveryCodeTable[Any])


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class SQLAlchemyMFAStore(Generic[TT, RT]):
    """Stores TOTP factors and recovery-code digests through an :class:`~sqlalchemy.ext.asyncio.AsyncSession`.

    Args:
        session: The request's session; every method commits it.
        totp_table: The application's mapped TOTP class.
        recovery_code_table: The application's mapped recovery-code class.
    """

    def __init__(self, session: AsyncSession, totp_table: type[TT], recovery_code_table: type[RT]) -> None:
        self.session = session
        self.totp_table = totp_table
        self.recovery_code_table = recovery_code_table

    @property
    def _totp(self) -> Any:
        return self.totp_table

    @property
    def _codes(self) -> Any:
        return self.recovery_code_table

    async def _commit(self, outcome: bool) -> bool:
        if outcome:
            await self.session.commit()
        else:
            await self.session.rollback()
        return outcome

    async def get_totp(self, user_id: Any) -> TOTPRecord | None:
        """The user's TOTP factor, pending or active (columns read, so no cached object is returned stale)."""
        totp = self._totp
        statement = select(totp.secret, totp.created_at, totp.confirmed_at, totp.last_step).where(
            totp.user_id == user_id
        )
        row = (await self.session.execute(statement)).one_or_none()
        await self.session.commit()  # end the read transaction: a later decision must see fresh rows
        if row is None:
            return None
        return TOTPRecord(user_id, row.secret, row.created_at, row.confirmed_at, row.last_step)

    async def begin_enrolment(self, user_id: Any, secret: str, *, now: datetime) -> bool:
        """Replace a pending factor by a new one; ``False`` if the user has an active factor."""
        totp = self._totp
        await self.session.execute(
            delete(totp)
            .where(totp.user_id == user_id, totp.confirmed_at.is_(None))
            .execution_options(synchronize_session=False)
        )
        try:
            # The primary key on user_id refuses the insert if an active factor exists, or if a
            # concurrent enrolment inserted first: the database decides, not a prior read.
            await self.session.execute(insert(totp).values(user_id=user_id, secret=secret, created_at=now))
        except IntegrityError:
            return await self._commit(False)
        return await self._commit(True)

    async def confirm_enrolment(
        self, user_id: Any, *, secret: str, step: int, now: datetime, recovery_digests: Sequence[str]
    ) -> bool:
        """Activate the pending factor holding ``secret`` and store the first recovery codes, in one transaction."""
        totp = self._totp
        activated = await self.session.execute(
            update(totp)
            .where(totp.user_id == user_id, totp.confirmed_at.is_(None), totp.secret == secret)
            .values(confirmed_at=now, last_step=step)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(activated) != 1:
            return await self._commit(False)
        await self._write_codes(user_id, recovery_digests, now)
        return await self._commit(True)

    async def accept_step(self, user_id: Any, step: int) -> bool:
        """Record ``step`` if it is after the last accepted one (one conditional ``UPDATE``)."""
        totp = self._totp
        result = await self.session.execute(
            update(totp)
            .where(
                totp.user_id == user_id,
                totp.confirmed_at.is_not(None),
                totp.last_step.is_(None) | (totp.last_step < step),
            )
            .values(last_step=step)
            .execution_options(synchronize_session=False)
        )
        return await self._commit(_rowcount(result) == 1)

    async def replace_secret(self, user_id: Any, old: str, new: str) -> bool:
        """Swap ciphertext ``old`` for ``new`` if ``old`` is still the stored one."""
        totp = self._totp
        result = await self.session.execute(
            update(totp)
            .where(totp.user_id == user_id, totp.secret == old)
            .values(secret=new)
            .execution_options(synchronize_session=False)
        )
        return await self._commit(_rowcount(result) == 1)

    async def remove(self, user_id: Any) -> bool:
        """Delete the TOTP factor and every recovery code of the user."""
        # Codes first, and explicitly: SQLite enforces no foreign key (so no cascade) unless told to.
        await self.session.execute(
            delete(self._codes).where(self._codes.user_id == user_id).execution_options(synchronize_session=False)
        )
        result = await self.session.execute(
            delete(self._totp).where(self._totp.user_id == user_id).execution_options(synchronize_session=False)
        )
        removed = _rowcount(result) > 0
        await self.session.commit()
        return removed

    async def _write_codes(self, user_id: Any, digests: Sequence[str], now: datetime) -> None:
        codes = self._codes
        await self.session.execute(
            delete(codes).where(codes.user_id == user_id).execution_options(synchronize_session=False)
        )
        if digests:
            await self.session.execute(
                insert(codes), [{"user_id": user_id, "digest": digest, "created_at": now} for digest in digests]
            )

    async def replace_recovery_codes(self, user_id: Any, digests: Sequence[str], *, now: datetime) -> None:
        """Delete every recovery code of the user and insert ``digests``, in one transaction."""
        await self._write_codes(user_id, digests, now)
        await self.session.commit()

    async def consume_recovery_code(self, user_id: Any, digests: Sequence[str], *, now: datetime) -> bool:
        """Mark used the user's unused code with one of ``digests`` (one conditional ``UPDATE``)."""
        codes = self._codes
        result = await self.session.execute(
            update(codes)
            .where(codes.user_id == user_id, codes.used_at.is_(None), codes.digest.in_(list(digests)))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return await self._commit(_rowcount(result) >= 1)

    async def count_remaining(self, user_id: Any) -> int:
        """How many unused recovery codes the user has (uses the ``user_id`` index)."""
        codes = self._codes
        statement = select(func.count()).select_from(codes).where(codes.user_id == user_id, codes.used_at.is_(None))
        count = (await self.session.execute(statement)).scalar_one()
        await self.session.commit()
        return int(count)
