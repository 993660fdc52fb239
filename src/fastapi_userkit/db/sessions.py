"""SQLAlchemy storage of sessions and refresh-token digests (``usersession`` and ``refreshtoken`` tables).

Declare both tables with the application's other tables, so ``metadata.create_all`` (or its
Alembic migration) creates them, and give the store a session maker::

    class UserSession(SQLAlchemyBaseSessionTableUUID, Base):
        pass


    class RefreshToken(SQLAlchemyBaseRefreshTokenTable, Base):
        pass


    store = SQLAlchemySessionStore(async_session_maker, UserSession, RefreshToken)

The store runs each operation in a short transaction of its own, apart from the request's
session: a rotation must commit whatever the route does next, and two workers rotating the
same token must meet on one conditional ``UPDATE`` (only the one that still sees the token
unrotated changes the row). Tables hold digests only: a dump of them cannot be replayed.

The assurance of a session's sign-in (issue 18: its level, 1 or 2, and its time) is kept in the
``credential`` column after the password fingerprint: ``<fingerprint>.<aal>.<auth_time>``. The
column is 43 characters wide and the fingerprint 22, so the tables of an existing application
keep working without a migration, and a row written before reads as level 1 at an unknown time.
The row is server-side only: no client sees or sends it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import ForeignKey, String, delete, insert, select, update
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from fastapi_userkit.db._row_reader import NOT_READ, read_values_by_primary_key
from fastapi_userkit.db._types import GUID, TIMESTAMPAware
from fastapi_userkit.models import ID
from fastapi_userkit.sessions.models import RefreshTokenRecord, SessionRecord

__all__ = [
    "SQLAlchemyBaseRefreshTokenTable",
    "SQLAlchemyBaseSessionTable",
    "SQLAlchemyBaseSessionTableUUID",
    "SQLAlchemySessionStore",
]

# Digests are compared byte for byte: MariaDB's default collations ignore case, and base64url
# digests that differ only in case are different digests.
_DIGEST = String(length=43).with_variant(mysql.VARCHAR(43, charset="ascii", collation="ascii_bin"), "mysql", "mariadb")
_ASSURANCE_SEPARATOR = "."  # never in a fingerprint (unpadded base64url)


def _pack_credential(credential: str, aal: int, auth_time: int | None) -> str:
    """The ``credential`` column: the fingerprint, then the sign-in's level and time."""
    packed = f"{credential}{_ASSURANCE_SEPARATOR}{aal}"
    return packed if auth_time is None else f"{packed}{_ASSURANCE_SEPARATOR}{auth_time}"


def _unpack_credential(stored: str) -> tuple[str, int, int | None]:
    """The fingerprint, level and time in a ``credential`` column (a row from before: level 1, time unknown)."""
    credential, _, rest = stored.partition(_ASSURANCE_SEPARATOR)
    level, _, auth_time = rest.partition(_ASSURANCE_SEPARATOR)
    aal = int(level) if level.isdigit() else 1
    return credential, aal, int(auth_time) if auth_time.isdigit() else None


class SQLAlchemyBaseSessionTable(Generic[ID]):
    """Columns of the ``usersession`` table; the application adds ``user_id`` (or uses the UUID variant).

    Example::

        class UserSession(SQLAlchemyBaseSessionTable[int], Base):
            user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="cascade"), index=True)
    """

    __tablename__ = "usersession"

    if TYPE_CHECKING:  # plain attributes for type checkers (see SQLAlchemyBaseUserTable)
        id: uuid.UUID
        user_id: ID
        created_at: datetime
        last_used_at: datetime
        expires_at: datetime
        ip_address: str | None
        user_agent: str | None
        credential: str
    else:
        id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
        created_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False)
        last_used_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False)
        expires_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False, index=True)
        ip_address: Mapped[str | None] = mapped_column(String(length=64), nullable=True)
        user_agent: Mapped[str | None] = mapped_column(String(length=512), nullable=True)
        credential: Mapped[str] = mapped_column(String(length=43), nullable=False)


class SQLAlchemyBaseSessionTableUUID(SQLAlchemyBaseSessionTable[uuid.UUID]):
    """Session columns with an indexed ``user_id`` foreign key to ``user.id`` (deleting the user deletes them)."""

    if TYPE_CHECKING:
        user_id: uuid.UUID
    else:

        @declared_attr
        def user_id(cls) -> Mapped[GUID]:  # noqa: N805 - declared_attr receives the class
            return mapped_column(GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True)


class SQLAlchemyBaseRefreshTokenTable:
    """Columns of the ``refreshtoken`` table: one row per refresh token ever issued in a live session.

    Rotated tokens keep their row (with ``rotated_at`` set) until their session ends, so
    presenting one again is recognised as reuse. ``session_id`` refers to ``usersession.id``;
    override it if the session table has another name.
    """

    __tablename__ = "refreshtoken"

    if TYPE_CHECKING:
        digest: str
        session_id: uuid.UUID
        created_at: datetime
        rotated_at: datetime | None
    else:
        digest: Mapped[str] = mapped_column(_DIGEST, primary_key=True)
        created_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False)
        rotated_at: Mapped[datetime | None] = mapped_column(TIMESTAMPAware(timezone=True), nullable=True)

        @declared_attr
        def session_id(cls) -> Mapped[GUID]:  # noqa: N805 - declared_attr receives the class
            return mapped_column(GUID, ForeignKey("usersession.id", ondelete="cascade"), nullable=False, index=True)


ST = TypeVar("ST", bound=SQLAlchemyBaseSessionTable[Any])
RT = TypeVar("RT", bound=SQLAlchemyBaseRefreshTokenTable)


class SQLAlchemySessionStore(Generic[ST, RT]):
    """A :class:`~fastapi_userkit.sessions.SessionStore` on SQLite, PostgreSQL or MariaDB/MySQL.

    Args:
        session_maker: Opens the store's own sessions (the app's ``async_sessionmaker``).
        session_table: The application's mapped session class.
        refresh_token_table: The application's mapped refresh-token class.
    """

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        session_table: type[ST],
        refresh_token_table: type[RT],
    ) -> None:
        self.session_maker = session_maker
        self.session_table = session_table
        self.refresh_token_table = refresh_token_table

    @property
    def _sessions(self) -> Any:
        return self.session_table

    @property
    def _tokens(self) -> Any:
        return self.refresh_token_table

    @staticmethod
    def _record(row: Any) -> SessionRecord:
        credential, aal, auth_time = _unpack_credential(row.credential)
        return SessionRecord(
            id=row.id,
            user_id=row.user_id,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            ip_address=row.ip_address,
            user_agent=row.user_agent,
            credential=credential,
            aal=aal,
            auth_time=auth_time,
        )

    async def create(self, session: SessionRecord, refresh_digest: str) -> None:
        """Insert the session and its first refresh token in one transaction."""
        async with self.session_maker() as db, db.begin():
            await db.execute(
                insert(self._sessions).values(
                    id=session.id,
                    user_id=session.user_id,
                    created_at=session.created_at,
                    last_used_at=session.last_used_at,
                    expires_at=session.expires_at,
                    ip_address=session.ip_address,
                    user_agent=session.user_agent,
                    credential=_pack_credential(session.credential, session.aal, session.auth_time),
                )
            )
            await db.execute(
                insert(self._tokens).values(digest=refresh_digest, session_id=session.id, created_at=session.created_at)
            )

    async def get(self, session_id: uuid.UUID) -> SessionRecord | None:
        """Return the session (one primary-key lookup).

        Every request authenticated by a token bound to a session asks this, so the row is read
        through the driver when the session maker is bound to a plain engine
        (:func:`~fastapi_userkit.db._row_reader.read_values_by_primary_key`), and through the ORM
        otherwise. Either way the row is read every time: an ended session fails at once.
        """
        bind = self.session_maker.kw.get("bind")
        if isinstance(bind, AsyncEngine) and not self.session_maker.kw.get("binds"):
            values = await read_values_by_primary_key(bind, self._sessions, session_id)
            if values is not NOT_READ:
                return None if values is None else self._record(SimpleNamespace(**values))
        async with self.session_maker() as db:
            row = (await db.execute(select(self._sessions).where(self._sessions.id == session_id))).scalar_one_or_none()
            return None if row is None else self._record(row)

    async def get_refresh_token(self, refresh_digest: str) -> RefreshTokenRecord | None:
        """Return the refresh token with this digest."""
        async with self.session_maker() as db:
            statement = select(self._tokens.session_id, self._tokens.rotated_at).where(
                self._tokens.digest == refresh_digest
            )
            row = (await db.execute(statement)).one_or_none()
            return None if row is None else RefreshTokenRecord(refresh_digest, row.session_id, row.rotated_at)

    async def rotate(
        self,
        session_id: uuid.UUID,
        parent_digest: str,
        child_digest: str,
        *,
        now: datetime,
        ip_address: str | None,
        user_agent: str | None,
    ) -> bool:
        """Retire the parent, insert the child and touch the session, all or nothing."""
        async with self.session_maker() as db, db.begin():
            # The condition "not rotated yet" is evaluated on the latest committed row under
            # its write lock, so two concurrent rotations cannot both match it.
            retired = await db.execute(
                update(self._tokens)
                .where(
                    self._tokens.digest == parent_digest,
                    self._tokens.session_id == session_id,
                    self._tokens.rotated_at.is_(None),
                )
                .values(rotated_at=now)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(retired, "rowcount", 0) or 0) != 1:
                return False
            await db.execute(insert(self._tokens).values(digest=child_digest, session_id=session_id, created_at=now))
            await db.execute(
                update(self._sessions)
                .where(self._sessions.id == session_id)
                .values(last_used_at=now, ip_address=ip_address, user_agent=user_agent)
                .execution_options(synchronize_session=False)
            )
            return True

    async def set_assurance(self, session_id: uuid.UUID, aal: int, auth_time: int | None) -> bool:
        """Record a re-authentication: the level and time after the fingerprint are replaced."""
        async with self.session_maker() as db, db.begin():
            stored = (
                await db.execute(select(self._sessions.credential).where(self._sessions.id == session_id))
            ).scalar_one_or_none()
            if stored is None:
                return False
            credential, _, _ = _unpack_credential(stored)
            result = await db.execute(
                update(self._sessions)
                .where(self._sessions.id == session_id)
                .values(credential=_pack_credential(credential, aal, auth_time))
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def list_for_user(self, user_id: Any) -> list[SessionRecord]:
        """Return the user's sessions, newest first (uses the ``user_id`` index)."""
        async with self.session_maker() as db:
            statement = (
                select(self._sessions)
                .where(self._sessions.user_id == user_id)
                .order_by(self._sessions.created_at.desc(), self._sessions.id)
            )
            return [self._record(row) for row in (await db.execute(statement)).scalars()]

    async def _delete_sessions(self, db: AsyncSession, session_ids: list[Any]) -> int:
        if not session_ids:
            return 0
        # Tokens first: SQLite enforces no foreign key (and so no cascade) unless told to.
        await db.execute(
            delete(self._tokens)
            .where(self._tokens.session_id.in_(session_ids))
            .execution_options(synchronize_session=False)
        )
        result = await db.execute(
            delete(self._sessions)
            .where(self._sessions.id.in_(session_ids))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete(self, session_id: uuid.UUID) -> bool:
        """Delete the session and its refresh tokens."""
        async with self.session_maker() as db, db.begin():
            return await self._delete_sessions(db, [session_id]) > 0

    async def delete_for_user(self, user_id: Any, *, keep: uuid.UUID | None = None) -> int:
        """Delete the user's sessions but ``keep``, with their refresh tokens."""
        async with self.session_maker() as db, db.begin():
            statement = select(self._sessions.id).where(self._sessions.user_id == user_id)
            if keep is not None:
                statement = statement.where(self._sessions.id != keep)
            ids = list((await db.execute(statement)).scalars())
            return await self._delete_sessions(db, ids)

    async def delete_expired(self, now: datetime, idle_before: datetime | None = None) -> int:
        """Delete sessions past their absolute end, or last used before ``idle_before``; return how many."""
        async with self.session_maker() as db, db.begin():
            condition = self._sessions.expires_at <= now
            if idle_before is not None:
                condition = condition | (self._sessions.last_used_at <= idle_before)
            ids = list((await db.execute(select(self._sessions.id).where(condition))).scalars())
            return await self._delete_sessions(db, ids)
