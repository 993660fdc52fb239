"""SQLAlchemy 2 (asyncio) storage: the user adapter (the table mixins live in ``_tables``).

Table and column names, types and lengths are those of ``fastapi-users-db-sqlalchemy`` 7, so an
existing database keeps working. Two deliberate differences:

* e-mail uniqueness is case-insensitive in the database itself (a unique index on
  ``lower(email)``, or a case-insensitive collation on MariaDB/MySQL), and
  :meth:`SQLAlchemyUserDatabase.get_by_email` is written so that index serves it;
* a unique violation on insert or update becomes :class:`UserAlreadyExists`, so two racing
  registrations give one user and one clean error, never a 500 (FastAPI Users #1388).
"""

from __future__ import annotations

from typing import Any, Generic, cast

from sqlalchemy import (
    Select,
    func,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.db._cascade import delete_cascading_rows, delete_session_rows
from fastapi_userkit.db._row_reader import NOT_READ, read_by_primary_key
from fastapi_userkit.db._tables import (
    SQLAlchemyBaseOAuthAccountTable,
    SQLAlchemyBaseOAuthAccountTableUUID,
    SQLAlchemyBaseUserTable,
    SQLAlchemyBaseUserTableUUID,
    is_mysql,
)
from fastapi_userkit.db._types import GUID, UUID_ID, TIMESTAMPAware, now_utc
from fastapi_userkit.db.base import BaseUserDatabase
from fastapi_userkit.exceptions import (
    InvalidUserData,
    OAuthAccountAlreadyLinked,
    OAuthLastLoginMethod,
    UserAlreadyExists,
)
from fastapi_userkit.models import ID, OAP, UP

__all__ = [
    "GUID",
    "UUID_ID",
    "SQLAlchemyBaseOAuthAccountTable",
    "SQLAlchemyBaseOAuthAccountTableUUID",
    "SQLAlchemyBaseUserTable",
    "SQLAlchemyBaseUserTableUUID",
    "SQLAlchemyUserDatabase",
    "TIMESTAMPAware",
    "now_utc",
]


def _is_data_error(exc: DBAPIError) -> bool:
    """Whether the database refused a value (SQLSTATE class 22), not the connection or the query.

    asyncpg's data errors reach SQLAlchemy as a plain ``DBAPIError``, so the SQLSTATE decides.
    """
    return isinstance(exc, DataError) or str(getattr(exc.orig, "sqlstate", "")).startswith("22")


def _storable(text: str) -> bool:
    """Whether every supported database can hold ``text``.

    PostgreSQL text cannot contain NUL and no driver can send a lone surrogate; asyncpg fails
    on either with a driver error. A stored value can never equal such a string, so a lookup
    by one finds nothing (a login form's ``username`` must never yield a 500).
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SQLAlchemyUserDatabase(Generic[UP, ID], BaseUserDatabase[UP, ID]):
    """Stores users (and OAuth accounts) through an :class:`~sqlalchemy.ext.asyncio.AsyncSession`.

    Each write commits, so the usual dependency that yields a session without committing works.

    Args:
        session: The request's session.
        user_table: The application's mapped user class.
        oauth_account_table: The mapped OAuth-account class, if the app uses OAuth.
    """

    def __init__(
        self,
        session: AsyncSession,
        user_table: type[UP],
        oauth_account_table: type[SQLAlchemyBaseOAuthAccountTable[Any]] | None = None,
    ) -> None:
        self.session = session
        self.user_table = user_table
        self.oauth_account_table = oauth_account_table

    @property
    def _table(self) -> Any:
        return self.user_table

    async def get(self, id: ID) -> UP | None:
        """Return the user with this id, or ``None``.

        For a plain mapping the row is read through the driver, outside the ORM, and attached
        to the session as the ORM would (``_row_reader``): a third of the cost, same result.
        """
        user = await read_by_primary_key(self.session, self.user_table, id)
        if user is not NOT_READ:
            return cast(UP | None, user)
        statement = select(self.user_table).where(self._table.id == id)
        return await self._get_user(statement)

    async def get_by_email(self, email: str) -> UP | None:
        """Return the user with this e-mail address, compared case-insensitively.

        The comparison matches the unique index: ``lower(email) = lower(:email)`` on PostgreSQL
        and SQLite, plain equality under the case-insensitive collation on MariaDB/MySQL.
        """
        if not _storable(email):
            return None
        column = self._table.email
        on_mysql = is_mysql(self._dialect_name())
        condition = column == email if on_mysql else func.lower(column) == func.lower(email)
        return await self._get_user(select(self.user_table).where(condition))

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> UP | None:
        """Return the user linked to this provider account, or ``None``.

        Raises:
            NotImplementedError: No OAuth-account table was given.
        """
        if self.oauth_account_table is None:
            raise NotImplementedError("SQLAlchemyUserDatabase was created without an oauth_account_table")
        oauth_table = cast(Any, self.oauth_account_table)
        statement = (
            select(self.user_table)
            .join(oauth_table)
            .where(oauth_table.oauth_name == oauth)
            .where(oauth_table.account_id == account_id)
        )
        return await self._get_user(statement)

    async def create(self, create_dict: dict[str, Any]) -> UP:
        """Insert a user.

        Raises:
            UserAlreadyExists: The e-mail address is taken (checked by the unique index).
            InvalidUserData: The database refused a value (too long, a NUL byte).
        """
        user = self.user_table(**create_dict)
        self.session.add(user)
        await self._commit(create_dict.get("email"), exclude=None)
        await self.session.refresh(user)
        return user

    async def update(self, user: UP, update_dict: dict[str, Any]) -> UP:
        """Update a user's columns.

        Raises:
            UserAlreadyExists: The new e-mail address is taken.
            InvalidUserData: The database refused a value (too long, a NUL byte).
        """
        for key, value in update_dict.items():
            setattr(user, key, value)
        self.session.add(user)
        try:
            await self._commit(update_dict.get("email"), exclude=user)
        except (UserAlreadyExists, InvalidUserData):
            await self.session.refresh(user)
            raise
        await self.session.refresh(user)
        return user

    async def update_if(self, user: UP, expected: dict[str, Any], update_dict: dict[str, Any]) -> UP | None:
        """Update ``user`` only if its columns still equal ``expected``: one conditional ``UPDATE``.

        The database serialises concurrent updates of the row, so of several callers that read
        the same values exactly one matches (issue 22: single-use reset and verification tokens).

        Returns:
            The refreshed user, or ``None`` when another transaction changed those columns first.

        Raises:
            InvalidUserData: The database refused a value.
        """
        columns = self._table.__table__.c
        statement = (
            update(self._table.__table__)
            .where(columns.id == user.id, *(columns[key] == value for key, value in expected.items()))
            .values(update_dict)
        )
        result = await self.session.execute(statement)
        if result.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
            await self.session.rollback()
            return None
        await self._commit(None, exclude=user)
        await self.session.refresh(user)
        return user

    async def delete(self, user: UP) -> None:
        """Delete a user with every row that references it with ``ON DELETE CASCADE``.

        PostgreSQL and MariaDB cascade by themselves; on SQLite, which enforces foreign keys
        only under ``PRAGMA foreign_keys=ON``, the adapter deletes those rows (access tokens,
        refresh sessions, the application's own tables) in the same transaction (issue 16).
        """
        if "oauth_accounts" in sa_inspect(user).mapper.relationships:
            # Deleted explicitly: left alone, SQLAlchemy would first set their ``user_id`` to
            # NULL (a NOT NULL violation, so a user with a linked account could not be deleted),
            # and SQLite enforces ``ON DELETE CASCADE`` only under ``PRAGMA foreign_keys=ON``.
            # The refresh loads the collection without a lazy load, which async cannot do.
            await self.session.refresh(user)
            for oauth_account in list(cast(Any, user).oauth_accounts):
                await self.session.delete(oauth_account)
        if self._dialect_name() == "sqlite":
            await delete_cascading_rows(self.session, cast(Any, sa_inspect(user).mapper.local_table), user.id)
        await self.session.delete(user)
        await self.session.commit()

    async def delete_user_sessions(self, user_id: Any) -> None:
        """Delete the user's access-token and refresh-session rows (see :class:`UserSessionsDatabase`).

        The tables are those mapped beside the user class from the library's access-token and
        session mixins; the manager calls this when the user is deactivated or deleted, so
        the rows go even where no strategy or session store is at hand (the CLI, a job).
        """
        await delete_session_rows(self.session, sa_inspect(self.user_table), user_id)
        await self.session.commit()

    async def add_oauth_account(self, user: UP, create_dict: dict[str, Any]) -> UP:
        """Link a new OAuth account to ``user``.

        Raises:
            NotImplementedError: No OAuth-account table was given.
        """
        if self.oauth_account_table is None:
            raise NotImplementedError("SQLAlchemyUserDatabase was created without an oauth_account_table")
        await self.session.refresh(user)
        oauth_account = self.oauth_account_table(**create_dict)
        self.session.add(oauth_account)
        cast(Any, user).oauth_accounts.append(oauth_account)
        self.session.add(user)
        try:
            await self.session.commit()
        except IntegrityError as exc:
            # The (oauth_name, account_id) unique constraint: someone linked it concurrently.
            await self.session.rollback()
            await self.session.refresh(user)
            raise OAuthAccountAlreadyLinked from exc
        await self.session.refresh(user)
        return user

    async def create_with_oauth_account(self, create_dict: dict[str, Any], oauth_account_dict: dict[str, Any]) -> UP:
        """Insert a user and its first OAuth account in one transaction.

        Raises:
            UserAlreadyExists: The e-mail address is taken.
            OAuthAccountAlreadyLinked: The provider account was linked to a user meanwhile.
            NotImplementedError: No OAuth-account table was given.
        """
        if self.oauth_account_table is None:
            raise NotImplementedError("SQLAlchemyUserDatabase was created without an oauth_account_table")
        user = self.user_table(**create_dict)
        cast(Any, user).oauth_accounts = [self.oauth_account_table(**oauth_account_dict)]
        self.session.add(user)
        try:
            await self._commit(create_dict.get("email"), exclude=None)
        except IntegrityError as exc:
            # Not the e-mail: the (oauth_name, account_id) constraint, when a concurrent
            # callback linked the same provider account first.
            linked = await self.get_by_oauth_account(
                oauth_account_dict.get("oauth_name", ""), oauth_account_dict.get("account_id", "")
            )
            if linked is not None:
                raise OAuthAccountAlreadyLinked from exc
            raise
        await self.session.refresh(user)
        return user

    async def update_oauth_account(self, user: UP, oauth_account: OAP, update_dict: dict[str, Any]) -> UP:
        """Update a linked OAuth account.

        Raises:
            NotImplementedError: No OAuth-account table was given.
        """
        if self.oauth_account_table is None:
            raise NotImplementedError("SQLAlchemyUserDatabase was created without an oauth_account_table")
        for key, value in update_dict.items():
            setattr(oauth_account, key, value)
        self.session.add(oauth_account)
        await self.session.commit()
        # Never hand back an expired object: with ``expire_on_commit=True`` reading it would
        # lazy-load, which an async session cannot do (MissingGreenlet).
        await self.session.refresh(user)
        return user

    async def remove_oauth_account(self, user: UP, oauth_account: OAP, *, unless_last: bool = False) -> UP:
        """Delete a linked OAuth account of ``user``.

        Args:
            user: The account's owner.
            oauth_account: One of ``user.oauth_accounts``.
            unless_last: Refuse when it is the user's only linked account. The check runs
                under a write lock on the user's row, so two concurrent unlinks of a user's
                last two accounts cannot both pass it.

        Raises:
            OAuthLastLoginMethod: ``unless_last`` and it is the user's only linked account.
            NotImplementedError: No OAuth-account table was given.
        """
        if self.oauth_account_table is None:
            raise NotImplementedError("SQLAlchemyUserDatabase was created without an oauth_account_table")
        if unless_last:
            # A no-op UPDATE takes the row lock on PostgreSQL and MariaDB and the database
            # write lock on SQLite: a concurrent unlink waits here until this one commits.
            table = self._table
            await self.session.execute(
                update(self.user_table)
                .where(table.id == user.id)
                .values(is_active=table.is_active)
                .execution_options(synchronize_session=False)
            )
            # A locking read sees the latest committed rows, even under MariaDB's
            # REPEATABLE READ snapshot taken earlier in the request.
            oauth_table = cast(Any, self.oauth_account_table)
            ids = [account.id for account in cast(Any, user).oauth_accounts]
            remaining = await self.session.execute(
                select(oauth_table.id).where(oauth_table.id.in_(ids)).with_for_update()
            )
            if len(remaining.all()) <= 1:
                await self.session.rollback()
                await self.session.refresh(user)
                raise OAuthLastLoginMethod()
        await self.session.delete(oauth_account)
        await self.session.commit()
        await self.session.refresh(user)
        return user

    async def release_connection(self) -> None:
        """End a read-only transaction so its connection goes back to the pool.

        The manager calls this before hashing a password: Argon2 takes a tenth of a second or
        more, and a login storm whose requests each held a pooled connection meanwhile would
        starve every other request of connections (measured: ``GET /users/me`` p50 went from
        milliseconds to seconds under 16 concurrent logins). Objects already loaded stay
        usable, whatever the session's ``expire_on_commit``; a transaction with pending writes
        is left alone.
        """
        session = self.session.sync_session
        if not session.in_transaction() or session.new or session.dirty or session.deleted:
            return
        expire_on_commit = session.expire_on_commit
        session.expire_on_commit = False
        try:
            await self.session.commit()
        finally:
            session.expire_on_commit = expire_on_commit

    async def _get_user(self, statement: Select[Any]) -> UP | None:
        results = await self.session.execute(statement)
        return cast(UP | None, results.unique().scalar_one_or_none())

    def _dialect_name(self) -> str:
        return self.session.get_bind().dialect.name

    async def _commit(self, email: str | None, *, exclude: UP | None) -> None:
        """Commit; turn a violation of the e-mail unique index into :class:`UserAlreadyExists`.

        A value the database refuses (too long for an application column, a NUL byte on
        PostgreSQL) becomes :class:`InvalidUserData`: the client's input, not a server fault.
        """
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            if email is not None:
                owner = await self.get_by_email(email)
                if owner is not None and owner is not exclude:
                    raise UserAlreadyExists from exc
            raise
        except DBAPIError as exc:
            if not _is_data_error(exc):
                raise
            await self.session.rollback()
            raise InvalidUserData from exc
