"""SQLAlchemy storage for security events (``security_event`` table), opt-in.

Declare the table with the application's other tables, so ``metadata.create_all`` (or its
Alembic migration) creates it, and hand the adapter to the user manager::

    class SecurityEvent(SQLAlchemyBaseSecurityEventTableUUID, Base):
        pass

    async def get_user_manager(user_db=Depends(get_user_db)):
        yield UserManager(user_db, security_event_db=SQLAlchemySecurityEventDatabase(user_db.session, SecurityEvent))

``user_id`` is indexed but is deliberately not a foreign key: the record of an account's
deletion, and of failed logins for unknown addresses (``user_id`` NULL), must be storable.

Each event is written in a short transaction of its own, on a new session bound to the same
engine: a failed insert (a missing table, say) cannot roll back, or expire the objects of, the
request's session, and the audit row of an operation stays even if the app later rolls back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic

from sqlalchemy import JSON, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from fastapi_userkit.db._types import GUID, TIMESTAMPAware, now_utc
from fastapi_userkit.models import ID
from fastapi_userkit.security.events import SecurityEvent, SecurityEventOutcome, SecurityEventType

__all__ = [
    "SQLAlchemyBaseSecurityEventTable",
    "SQLAlchemyBaseSecurityEventTableUUID",
    "SQLAlchemySecurityEventDatabase",
]


class SQLAlchemyBaseSecurityEventTable(Generic[ID]):
    """Columns of the ``security_event`` table; the application adds ``user_id`` (or uses the UUID variant).

    Example::

        class SecurityEvent(SQLAlchemyBaseSecurityEventTable[int], Base):
            user_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    """

    __tablename__ = "security_event"

    if TYPE_CHECKING:  # plain attributes for type checkers (see SQLAlchemyBaseUserTable)
        id: uuid.UUID
        user_id: ID | None
        type: str
        outcome: str
        created_at: datetime
        ip_address: str | None
        user_agent: str | None
        details: dict[str, str]
    else:
        id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
        type: Mapped[str] = mapped_column(String(length=64), nullable=False)
        outcome: Mapped[str] = mapped_column(String(length=16), nullable=False)
        created_at: Mapped[datetime] = mapped_column(
            TIMESTAMPAware(timezone=True), index=True, nullable=False, default=now_utc
        )
        ip_address: Mapped[str | None] = mapped_column(String(length=64), nullable=True)
        user_agent: Mapped[str | None] = mapped_column(String(length=512), nullable=True)
        details: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)


class SQLAlchemyBaseSecurityEventTableUUID(SQLAlchemyBaseSecurityEventTable[uuid.UUID]):
    """Security-event columns with an indexed, nullable UUID ``user_id``."""

    if TYPE_CHECKING:
        user_id: uuid.UUID | None
    else:

        @declared_attr
        def user_id(cls) -> Mapped[GUID | None]:  # noqa: N805 - declared_attr receives the class
            return mapped_column(GUID, nullable=True, index=True)


class SQLAlchemySecurityEventDatabase:
    """Stores and lists security events through an :class:`~sqlalchemy.ext.asyncio.AsyncSession`.

    Args:
        session: The request's session (the user database's ``session``).
        security_event_table: The application's mapped security-event class.
    """

    def __init__(self, session: AsyncSession, security_event_table: type[Any]) -> None:
        self.session = session
        self.security_event_table = security_event_table

    async def create(self, event: SecurityEvent) -> None:
        """Insert ``event`` in a transaction of its own and commit it.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: The insert failed; the request's session is untouched.
        """
        row = self.security_event_table(
            user_id=event.user_id,
            type=event.type.value,
            outcome=event.outcome.value,
            created_at=event.created_at,
            ip_address=event.ip_address,
            user_agent=event.user_agent,
            details=dict(event.details),
        )
        async with AsyncSession(bind=self.session.bind, expire_on_commit=False) as session:
            session.add(row)
            await session.commit()

    async def list_for_user(self, user_id: Any, limit: int) -> list[SecurityEvent]:
        """Return up to ``limit`` of the user's events, newest first."""
        table: Any = self.security_event_table
        statement = (
            select(table).where(table.user_id == user_id).order_by(table.created_at.desc(), table.id).limit(limit)
        )
        rows = (await self.session.execute(statement)).scalars().all()
        return [_to_event(row) for row in rows if row.type in _KNOWN_TYPES]


_KNOWN_TYPES = frozenset(item.value for item in SecurityEventType)


def _to_event(row: Any) -> SecurityEvent:
    return SecurityEvent(
        type=SecurityEventType(row.type),
        outcome=SecurityEventOutcome(row.outcome),
        user_id=row.user_id,
        created_at=row.created_at,
        ip_address=row.ip_address,
        user_agent=row.user_agent,
        details=dict(row.details or {}),
    )
