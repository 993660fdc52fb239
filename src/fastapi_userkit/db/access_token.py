"""SQLAlchemy storage for the database token strategy (``accesstoken`` table).

The ``token`` column holds what the strategy gives it. Our
:class:`~fastapi_userkit.authentication.strategy.DatabaseStrategy` gives the SHA-256 digest of the
client's token, never the token itself, so a dump of this table cannot be replayed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, cast

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from fastapi_userkit.db._row_reader import NOT_READ, read_by_primary_key
from fastapi_userkit.db._token_protocols import AP
from fastapi_userkit.db._types import GUID, TIMESTAMPAware, now_utc
from fastapi_userkit.models import ID

__all__ = [
    "SQLAlchemyAccessTokenDatabase",
    "SQLAlchemyBaseAccessTokenTable",
    "SQLAlchemyBaseAccessTokenTableUUID",
]


class SQLAlchemyBaseAccessTokenTable(Generic[ID]):
    """Columns of the ``accesstoken`` table; the application adds ``user_id`` (or uses the UUID variant)."""

    __tablename__ = "accesstoken"

    if TYPE_CHECKING:  # plain attributes for type checkers (see SQLAlchemyBaseUserTable)
        user_id: ID
        token: str
        created_at: datetime
    else:
        token: Mapped[str] = mapped_column(String(length=43), primary_key=True)
        created_at: Mapped[datetime] = mapped_column(
            TIMESTAMPAware(timezone=True), index=True, nullable=False, default=now_utc
        )


class SQLAlchemyBaseAccessTokenTableUUID(SQLAlchemyBaseAccessTokenTable[uuid.UUID]):
    """Access-token columns with an indexed ``user_id`` foreign key to ``user.id``."""

    if TYPE_CHECKING:
        user_id: uuid.UUID
    else:

        @declared_attr
        def user_id(cls) -> Mapped[GUID]:  # noqa: N805 - declared_attr receives the class
            return mapped_column(GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True)


class SQLAlchemyAccessTokenDatabase(Generic[AP]):
    """Stores access tokens through an :class:`~sqlalchemy.ext.asyncio.AsyncSession`.

    Args:
        session: The request's session.
        access_token_table: The application's mapped access-token class.
    """

    def __init__(self, session: AsyncSession, access_token_table: type[AP]) -> None:
        self.session = session
        self.access_token_table = access_token_table

    @property
    def _table(self) -> Any:
        return self.access_token_table

    async def get_by_token(self, token: str, max_age: datetime | None = None) -> AP | None:
        """Return the row for ``token``, or ``None`` if absent or created before ``max_age``."""
        if "\x00" in token:
            # PostgreSQL text cannot hold NUL (asyncpg would raise), so no row can match.
            return None
        # The per-request read of the database strategy: by primary key, through the driver
        # when the mapping allows it (``_row_reader``), the age compared here.
        found = await read_by_primary_key(self.session, self.access_token_table, token)
        if found is not NOT_READ:
            if found is None or (max_age is not None and found.created_at < max_age):
                return None
            return cast(AP, found)
        statement = select(self.access_token_table).where(self._table.token == token)
        if max_age is not None:
            statement = statement.where(self._table.created_at >= max_age)
        results = await self.session.execute(statement)
        return cast(AP | None, results.scalar_one_or_none())

    async def create(self, create_dict: dict[str, Any]) -> AP:
        """Insert a token row."""
        access_token = self.access_token_table(**create_dict)
        self.session.add(access_token)
        await self.session.commit()
        await self.session.refresh(access_token)
        return access_token

    async def update(self, access_token: AP, update_dict: dict[str, Any]) -> AP:
        """Update a token row."""
        for key, value in update_dict.items():
            setattr(access_token, key, value)
        self.session.add(access_token)
        await self.session.commit()
        await self.session.refresh(access_token)
        return access_token

    async def delete(self, access_token: AP) -> None:
        """Delete a token row."""
        await self.session.delete(access_token)
        await self.session.commit()

    async def delete_by_user(self, user_id: Any) -> int:
        """Delete every token of a user (uses the ``user_id`` index); return how many."""
        result = await self.session.execute(delete(self.access_token_table).where(self._table.user_id == user_id))
        await self.session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete_expired(self, max_age: datetime) -> int:
        """Delete every token created before ``max_age`` (uses the ``created_at`` index); return how many."""
        result = await self.session.execute(delete(self.access_token_table).where(self._table.created_at < max_age))
        await self.session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
