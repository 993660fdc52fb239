"""What ``userkit db preflight`` reads from a FastAPI Users database before its first upgrade.

Four findings (issue 21, item 3):

- e-mail addresses that differ only in case (or, on MariaDB, in what its case-insensitive
  collation ignores): the upgrade's unique index on ``lower(email)`` (the collation's unique
  index on MariaDB) cannot be built while they exist, so they block it;
- addresses the new registration rules refuse (:func:`~fastapi_userkit._email_forms.lookalike_problem`):
  their owners still log in, nothing is blocked, but they are worth knowing about;
- rows of the access-token table: FastAPI Users stores the client's token itself, fastapi-userkit
  looks up its SHA-256 digest, so those tokens stop working after the move unless migrated;
- the tables, columns and indexes the upgrade changes: the live schema compared with the
  application's metadata by Alembic's autogenerate, with the library's own hooks.

Every query goes through lightweight ``table()``/``column()`` constructs with the names of the
application's models, never through the mapped classes: the live table still has FastAPI Users'
layout, whose types may differ from the models'.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, MetaData, String, bindparam, func, inspect, select, table, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import TableClause, column

from fastapi_userkit._email_forms import lookalike_problem
from fastapi_userkit.authentication.strategy._legacy import LEGACY_MARK
from fastapi_userkit.cli._errors import CLIError

__all__ = ["Account", "DuplicateGroup", "PreflightReport", "apply_fix", "run_preflight"]

DUPLICATE_MARK = "+userkit-dup-"
"""What ``--fix`` inserts before the ``@`` of an address it renames: ``alice+userkit-dup-1@example.com``.

Reversible by deleting it; kept valid for ``EmailStr`` (a ``.invalid`` domain would make the
user unreadable through the API's schemas), and plus addressing still reaches the mailbox owner.
"""

_MAX_LOCAL_PART = 64  # RFC 5321, section 4.5.3.1.1
# A FastAPI Users token (secrets.token_urlsafe()) and a fastapi-userkit digest have this one form.
_TOKEN_FORM = re.compile(r"[A-Za-z0-9_-]{43}")
# Expression indexes SQLite cannot reflect: Alembic warns, and the library's hook adds them back.
_EXPECTED_SQLITE_WARNINGS = (
    r"Skipped unsupported reflection of expression-based index",
    r"autogenerate skipping metadata-specified expression-based index",
)


@dataclass(frozen=True)
class Account:
    """A user row as preflight sees it (``last_token`` is the newest access-token time, as text)."""

    id: Any
    email: str
    is_active: bool
    is_verified: bool
    last_token: str | None = None

    def rank(self) -> tuple[bool, bool, str]:
        """The order in which ``--fix`` keeps an address: verified, active, most recently logged in."""
        return (bool(self.is_verified), bool(self.is_active), self.last_token or "")


@dataclass(frozen=True)
class DuplicateGroup:
    """Accounts one case-insensitive unique index would merge, and what ``--fix`` would do."""

    accounts: tuple[Account, ...]
    keeper: Account | None
    renames: tuple[tuple[Account, str], ...] = ()
    refusal: str | None = None


@dataclass
class PreflightReport:
    """Everything preflight found; :attr:`blocking` is what stops the upgrade."""

    duplicates: list[DuplicateGroup] = field(default_factory=list)
    lookalikes: list[tuple[Account, str]] = field(default_factory=list)
    token_table: str | None = None
    token_rows: int = 0
    odd_token_rows: int = 0
    migrated_token_rows: int = 0
    schema_changes: list[str] | None = None
    redis_tokens: int | None = None
    redis_migrated: int = 0
    redis_prefix: str = ""

    @property
    def blocking(self) -> bool:
        """Whether something stops the upgrade (case duplicates)."""
        return bool(self.duplicates)


def _is_mysql(connection: AsyncConnection) -> bool:
    return connection.dialect.name in {"mysql", "mariadb"}


def _email_key(connection: AsyncConnection, email: ColumnElement[Any]) -> ColumnElement[Any]:
    """What the upgraded database's unique index compares: ``lower(email)``, or the collation on MariaDB."""
    if _is_mysql(connection):
        mariadb = getattr(connection.dialect, "is_mariadb", False)
        # The collation EmailType gives the column (fastapi_userkit.db._types); a fixed literal.
        collation = "utf8mb4_uca1400_nopad_as_ci" if mariadb else "utf8mb4_0900_as_ci"
        return email.collate(collation)
    return func.lower(email)


def _users(user_table: str) -> TableClause:
    return table(user_table, column("id"), column("email"), column("is_active"), column("is_verified"))


async def _last_tokens(connection: AsyncConnection, token_table: str | None, ids: list[Any]) -> dict[str, str]:
    """The newest access-token time of each of ``ids``, as text (in chunks: one scan each, bound parameters capped)."""
    if token_table is None:
        return {}
    tokens = table(token_table, column("user_id"), column("created_at"))
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        statement = (
            select(tokens.c.user_id, func.max(tokens.c.created_at))
            .where(tokens.c.user_id.in_(ids[start : start + 500]))
            .group_by(tokens.c.user_id)
        )
        found.update({str(row[0]): str(row[1]) for row in await connection.execute(statement)})
    return found


async def _address_taken(connection: AsyncConnection, users: TableClause, email: str) -> bool:
    key = _email_key(connection, users.c.email)
    found = await connection.execute(select(users.c.id).where(key == _email_key(connection, _bound(email))))
    return found.first() is not None


def _bound(value: str) -> ColumnElement[Any]:
    """A bound string, typed so that MariaDB's ``COLLATE`` applies to it as to the column."""
    return bindparam(None, value, type_=String())


async def _plan(connection: AsyncConnection, users: TableClause, accounts: tuple[Account, ...]) -> DuplicateGroup:
    ranked = sorted(accounts, key=Account.rank, reverse=True)
    if ranked[0].rank() == ranked[1].rank():
        reason = (
            f"{sum(account.rank() == ranked[0].rank() for account in ranked)} accounts are equally verified, active"
            " and recently used: choose by hand which one keeps the address (merge or rename the others)"
        )
        return DuplicateGroup(accounts, None, refusal=reason)
    renames: list[tuple[Account, str]] = []
    number = 1
    for account in ranked[1:]:
        local, _, domain = account.email.rpartition("@")
        while True:
            candidate = f"{local}{DUPLICATE_MARK}{number}@{domain}"
            number += 1
            if len(candidate.rpartition("@")[0]) > _MAX_LOCAL_PART:
                reason = (
                    f"{account.email} has no room for the suffix (local part over 64 characters): rename it by hand"
                )
                return DuplicateGroup(accounts, ranked[0], refusal=reason)
            if not await _address_taken(connection, users, candidate):
                break
        renames.append((account, candidate))
    return DuplicateGroup(accounts, ranked[0], tuple(renames))


async def _duplicates(connection: AsyncConnection, user_table: str, token_table: str | None) -> list[DuplicateGroup]:
    users = _users(user_table)
    key = _email_key(connection, users.c.email)
    # One scan: each row with its group's size and label (window functions: SQLite 3.25,
    # PostgreSQL, MariaDB 10.2). The label is the group's smallest address, so rows that the
    # database's own comparison merges (MariaDB's collation) share it whatever their spelling.
    ranked = select(
        users.c.id,
        users.c.email,
        users.c.is_active,
        users.c.is_verified,
        func.count().over(partition_by=key).label("size"),
        func.min(users.c.email).over(partition_by=key).label("label"),
    ).subquery()
    rows = await connection.execute(
        select(ranked.c.id, ranked.c.email, ranked.c.is_active, ranked.c.is_verified, ranked.c.label)
        .where(ranked.c.size > 1)
        .order_by(ranked.c.label, ranked.c.email)
    )
    members: dict[str, list[Account]] = {}
    for row in rows:
        members.setdefault(row[4], []).append(Account(row[0], row[1], bool(row[2]), bool(row[3])))
    last = await _last_tokens(connection, token_table, [a.id for found in members.values() for a in found])
    groups: list[DuplicateGroup] = []
    for found in members.values():
        accounts = tuple(Account(a.id, a.email, a.is_active, a.is_verified, last.get(str(a.id))) for a in found)
        groups.append(await _plan(connection, users, accounts))
    return groups


async def _lookalikes(connection: AsyncConnection, user_table: str) -> list[tuple[Account, str]]:
    users = _users(user_table)
    rows = await connection.stream(
        select(users.c.id, users.c.email, users.c.is_active, users.c.is_verified).execution_options(yield_per=1000)
    )
    found: list[tuple[Account, str]] = []
    async for row in rows:
        problem = lookalike_problem(row[1])
        if problem is not None:
            found.append((Account(row[0], row[1], bool(row[2]), bool(row[3])), problem))
    return sorted(found, key=lambda item: item[0].email)


async def _tokens(connection: AsyncConnection, token_table: str) -> tuple[int, int, int]:
    """``(rows, rows of another form, rows already migrated)``; migrated rows start with the legacy mark."""
    tokens = table(token_table, column("token"))
    total = odd = migrated = 0
    # Read in a stream and never printed: each value is a live credential.
    async for (token,) in await connection.stream(select(tokens.c.token).execution_options(yield_per=1000)):
        total += 1
        if str(token).startswith(LEGACY_MARK):
            migrated += 1
        else:
            odd += not _TOKEN_FORM.fullmatch(str(token))
    return total, odd, migrated


def _describe(diff: Any) -> str:
    if isinstance(diff, list):  # Alembic groups modify_* diffs of one column in a list
        diff = diff[0]
    kind: str = diff[0]
    verb, _, what = kind.partition("_")
    if what == "table":
        return f"{verb} table {diff[1].name}"
    if what in {"index", "fk", "constraint"}:
        target = diff[1]
        return f"{verb} {what} {target.name} on {target.table.name}"
    if what == "column":
        return f"{verb} column {diff[2]}.{diff[3].name}"
    return f"change the {what} of {diff[2]}.{diff[3]}"  # modify_type, modify_nullable, ...


def _schema_changes(connection: Connection, metadata: MetaData | Sequence[MetaData]) -> list[str]:
    from alembic.autogenerate import produce_migrations
    from alembic.migration import MigrationContext

    from fastapi_userkit.migrations import configure_options, process_revision_directives

    context = MigrationContext.configure(connection, opts=configure_options(connection.dialect, metadata))
    with warnings.catch_warnings():
        for message in _EXPECTED_SQLITE_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        # Alembic's autogenerate takes a sequence of MetaData too (target_metadata), though typed as one.
        script = produce_migrations(context, cast(MetaData, metadata))
        process_revision_directives(context, None, [script])
    upgrade_ops = script.upgrade_ops
    assert upgrade_ops is not None  # noqa: S101 - produce_migrations always fills it
    return [_describe(diff) for diff in upgrade_ops.as_diffs()]


def _has_table(connection: Connection, name: str) -> bool:
    return inspect(connection).has_table(name)


async def run_preflight(
    connection: AsyncConnection,
    user_table: str,
    token_table: str | None,
    metadata: MetaData | Sequence[MetaData],
    *,
    compare_schema: bool = True,
) -> PreflightReport:
    """Read the database through ``connection`` and report what the upgrade would meet.

    Args:
        connection: A connection to the application's database (nothing is written).
        user_table: The name of the user table.
        token_table: The name of the access-token table, if the application has one.
        metadata: The application's metadata, the schema the upgrade aims at.
        compare_schema: Compare the live schema with ``metadata`` (needs Alembic).

    Raises:
        sqlalchemy.exc.DBAPIError: The database cannot be read (the user table is missing...).
    """
    if token_table is not None and not await connection.run_sync(_has_table, token_table):
        token_table = None
    report = PreflightReport(token_table=token_table)
    report.duplicates = await _duplicates(connection, user_table, token_table)
    report.lookalikes = await _lookalikes(connection, user_table)
    if token_table is not None:
        report.token_rows, report.odd_token_rows, report.migrated_token_rows = await _tokens(connection, token_table)
    if compare_schema:
        report.schema_changes = await connection.run_sync(_schema_changes, metadata)
    return report


async def apply_fix(connection: AsyncConnection, user_table: str, groups: Sequence[DuplicateGroup]) -> int:
    """Rename the addresses the plans of ``groups`` rename, in the caller's transaction; how many.

    Each update also names the address it planned from, so a row changed since is not touched.

    Raises:
        CLIError: A row changed between the plan and its application (the caller rolls back).
    """
    users = _users(user_table)
    renamed = 0
    for group in groups:
        for account, new_email in group.renames:
            statement = (
                update(users).where(users.c.id == account.id, users.c.email == account.email).values(email=new_email)
            )
            result = await connection.execute(statement)
            if result.rowcount != 1:
                raise CLIError(f"{account.email} changed since the plan was made: run preflight again")
            renamed += 1
    return renamed
