"""Rows that belong to a user, found through the foreign keys of the application's metadata.

Two jobs of the user adapter need them (issue 16, item 8):

* deleting a user: the tables that reference the user table with ``ondelete="cascade"``
  (access tokens, refresh sessions, OAuth accounts, the application's own) lose the user's
  rows. PostgreSQL and MariaDB do it themselves; SQLite enforces foreign keys only under
  ``PRAGMA foreign_keys=ON``, off by default, so there the adapter deletes them itself,
  children of children first;
* ending a user's sessions (deactivation, deletion): the rows of the access-token and
  refresh-session tables mapped beside the user table are deleted, wherever the request
  came from (a route, the CLI, a job without a request).

Only tables of the user table's own metadata are seen: a token table declared on another
``MetaData`` is out of reach and must be ended through its strategy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper

__all__ = ["delete_cascading_rows", "delete_session_rows", "session_tables"]


def _cascading_children(parent: Table) -> Iterator[tuple[Table, Any, Any]]:
    """``(child, child column, parent column)`` for every ``ON DELETE CASCADE`` key to ``parent``."""
    for table in parent.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table is parent and (key.ondelete or "").lower() == "cascade":
                yield table, key.parent, key.column


async def _delete_children(
    session: AsyncSession, parent: Table, rows: ColumnElement[bool], seen: frozenset[Table]
) -> None:
    """Delete, deepest first, the rows that cascade from the ``rows`` of ``parent``."""
    for child, child_column, parent_column in _cascading_children(parent):
        if child in seen:  # a cycle (a self-referencing table): the database would refuse it anyway
            continue
        child_rows = child_column.in_(select(parent_column).where(rows))
        await _delete_children(session, child, child_rows, seen | {child})
        await session.execute(delete(child).where(child_rows))


async def delete_cascading_rows(session: AsyncSession, user_table: Table, user_id: Any) -> None:
    """Delete what ``ON DELETE CASCADE`` would delete with the user ``user_id``; no commit."""
    await _delete_children(session, user_table, user_table.c.id == user_id, frozenset({user_table}))


def session_tables(user_mapper: Mapper[Any]) -> list[Table]:
    """The access-token and refresh-session tables mapped beside the user table.

    Found by their mixins (the library's ``SQLAlchemyBaseAccessTokenTable`` and
    ``SQLAlchemyBaseSessionTable``) among the user class's registry, and kept only if they
    reference the user table.
    """
    # Imported here: both modules import the authentication and sessions packages, which
    # import the manager, which imports this package.
    from fastapi_userkit.db.access_token import SQLAlchemyBaseAccessTokenTable
    from fastapi_userkit.db.sessions import SQLAlchemyBaseSessionTable

    user_table = user_mapper.local_table
    found: list[Table] = []
    for mapper in user_mapper.registry.mappers:
        table = mapper.local_table
        if (
            issubclass(mapper.class_, SQLAlchemyBaseAccessTokenTable | SQLAlchemyBaseSessionTable)
            and isinstance(table, Table)
            and any(key.column.table is user_table for key in table.foreign_keys)
            and table not in found
        ):
            found.append(table)
    return found


async def delete_session_rows(session: AsyncSession, user_mapper: Mapper[Any], user_id: Any) -> None:
    """Delete the user's access-token and refresh-session rows (with what cascades from them); no commit."""
    user_table = user_mapper.local_table
    assert isinstance(user_table, Table)  # noqa: S101 - a mapped user class always has a table
    for table in session_tables(user_mapper):
        for key in table.foreign_keys:
            if key.column.table is user_table:
                rows = key.parent.in_(select(key.column).where(user_table.c.id == user_id))
                await _delete_children(session, table, rows, frozenset({user_table, table}))
                await session.execute(delete(table).where(rows))
