"""SQLAlchemy storage of revoked JWTs, for logging out one JWT or all of a user's JWTs.

A JWT is self-contained: ending it before it expires needs server state (ASVS 5.0 7.4.1). An
app that wants that declares this table with the mixin and hands the adapter to
:class:`~fastapi_userkit.authentication.JWTStrategy` (``revoked_tokens=``). Without it, JWT
logout keeps FastAPI Users' documented behaviour: the token stays valid until it expires
(a password change still ends it, through the credential claim).

Two kinds of rows share the table, keyed by ``key``:

* ``jti:<token id>`` — one revoked token, kept until the token would have expired;
* ``user:<user id>`` — every token of that user issued at or before ``not_before``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fastapi_userkit.db._types import TIMESTAMPAware

__all__ = [
    "RevokedTokenDatabase",
    "RevokedTokenProtocol",
    "SQLAlchemyBaseRevokedTokenTable",
    "SQLAlchemyRevokedTokenDatabase",
]


class RevokedTokenProtocol(Protocol):
    """A revocation row."""

    key: str
    not_before: datetime | None
    expires_at: datetime | None


RT = TypeVar("RT", bound=RevokedTokenProtocol)


class RevokedTokenDatabase(Protocol):
    """What :class:`JWTStrategy` needs to revoke tokens."""

    async def get_many(self, keys: Sequence[str]) -> dict[str, RevokedTokenProtocol]:
        """Return the rows among ``keys``, by key."""
        ...  # pragma: no cover - protocol

    async def revoke(self, key: str, not_before: datetime | None, expires_at: datetime | None) -> None:
        """Insert or replace the row ``key``."""
        ...  # pragma: no cover - protocol


class SQLAlchemyBaseRevokedTokenTable:
    """Columns of the ``revokedtoken`` table."""

    __tablename__ = "revokedtoken"

    if TYPE_CHECKING:  # plain attributes for type checkers (see SQLAlchemyBaseUserTable)
        key: str
        not_before: datetime | None
        expires_at: datetime | None
    else:
        key: Mapped[str] = mapped_column(String(length=100), primary_key=True)
        not_before: Mapped[datetime | None] = mapped_column(TIMESTAMPAware(timezone=True), nullable=True)
        expires_at: Mapped[datetime | None] = mapped_column(TIMESTAMPAware(timezone=True), nullable=True, index=True)


class SQLAlchemyRevokedTokenDatabase(Generic[RT]):
    """Stores revocations through an :class:`~sqlalchemy.ext.asyncio.AsyncSession`.

    Args:
        session: The request's session.
        table: The application's mapped revoked-token class.
    """

    def __init__(self, session: AsyncSession, table: type[RT]) -> None:
        self.session = session
        self.table = table

    @property
    def _table(self) -> Any:
        return self.table

    async def get_many(self, keys: Sequence[str]) -> dict[str, RevokedTokenProtocol]:
        """Return the rows among ``keys`` in one query."""
        result = await self.session.execute(select(self.table).where(self._table.key.in_(list(keys))))
        return {row.key: row for row in result.scalars()}

    async def revoke(self, key: str, not_before: datetime | None, expires_at: datetime | None) -> None:
        """Insert or replace the row ``key`` (a concurrent insert of the same key is retried once)."""
        for attempt in range(2):
            row = cast(Any, await self.session.get(self.table, key))
            if row is None:
                self.session.add(self._table(key=key, not_before=not_before, expires_at=expires_at))
            else:
                row.not_before, row.expires_at = not_before, expires_at
            try:
                await self.session.commit()
                return
            except IntegrityError:
                await self.session.rollback()
                if attempt:
                    raise

    async def delete_expired(self, now: datetime) -> int:
        """Delete rows past their ``expires_at``; return how many."""
        result = await self.session.execute(delete(self.table).where(self._table.expires_at < now))
        await self.session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
