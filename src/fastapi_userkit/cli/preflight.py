"""``userkit db preflight``: what would stop or change the first upgrade of a FastAPI Users database.

Run it before ``userkit db upgrade`` on a database FastAPI Users has been writing (issue 21,
item 3). It lists, on SQLite, PostgreSQL and MariaDB:

- **case duplicates** (blocking): addresses one case-insensitive unique index would merge,
  grouped, with their ids;
- **look-alike addresses** the new registration rules refuse (their owners still log in);
- **access tokens** FastAPI Users stored in plain text (rows of the access-token table, and
  with ``--redis-url`` the keys of its ``RedisStrategy``): how many are still to migrate and how
  many are migrated (see :mod:`fastapi_userkit.migrations.tokens`); unmigrated ones stop working
  after the move;
- **schema changes** the upgrade makes (tables, columns, indexes), as ``userkit db check`` sees them.

``--fix`` prints a plan for the case duplicates; ``--fix --yes`` applies it in one transaction.
The plan keeps the address of the verified, then active, then most recently logged-in account
of each group (newest row of the access-token table) and renames the others by inserting
``+userkit-dup-N`` before the ``@`` (delete it to undo). When two accounts tie on all three, no
rule can tell which one the person uses: the plan refuses that group and says so, and it stays
blocking until renamed or merged by hand. Renaming is chosen over deleting or merging because
other tables (the application's own) point at both ids, and only the application knows them.

Exit code: 0 when nothing blocks the upgrade (after the fix, with ``--yes``), 1 otherwise.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import inspect

from fastapi_userkit.authentication.strategy._legacy import LEGACY_MARK, is_legacy_token
from fastapi_userkit.cli._errors import EXIT_ERROR, CLIError
from fastapi_userkit.cli._preflight_checks import (
    DUPLICATE_MARK,
    Account,
    DuplicateGroup,
    PreflightReport,
    apply_fix,
    run_preflight,
)
from fastapi_userkit.cli._state import get_state, run_async
from fastapi_userkit.cli.config import UserkitCLIConfig

__all__ = ["count_redis_tokens", "preflight", "preflight_command"]


def _table_names(config: UserkitCLIConfig) -> tuple[str, str | None]:
    user_table = str(inspect(config.user_model).local_table.name)
    model = config.access_token_model
    return user_table, None if model is None else str(inspect(model).local_table.name)


def _compare_schema() -> bool:
    try:
        import alembic  # noqa: F401
    except ImportError:  # pragma: no cover - the test environment installs the migrations extra
        return False
    return True


async def count_redis_tokens(url: str, prefix: str) -> tuple[int, int]:
    """Count the token keys FastAPI Users' ``RedisStrategy`` wrote under ``prefix``: ``(to migrate, migrated)``.

    A key ``{prefix}{token}`` of FastAPI Users' form is to migrate (before the move, every one is
    FastAPI Users'); ``{prefix}~...`` was migrated by ``userkit db migrate-tokens``. The per-user
    sets fastapi-userkit keeps beside its digests (``{prefix}user:{id}``) are not tokens.

    Raises:
        CLIError: The ``redis`` extra is not installed.
        OSError: Redis cannot be reached (reported as exit code 3).
    """
    try:
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - the test environment installs the redis extra
        raise CLIError("--redis-url needs the redis extra: pip install 'fastapi-userkit[redis]'") from exc
    client = redis.asyncio.from_url(url)
    try:
        to_migrate = migrated = 0
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            name = (key.decode() if isinstance(key, bytes) else str(key))[len(prefix) :]
            migrated += name.startswith(LEGACY_MARK)
            to_migrate += is_legacy_token(name)
        return to_migrate, migrated
    finally:
        await client.aclose()


async def preflight(config: UserkitCLIConfig, *, apply: bool = False) -> tuple[PreflightReport, int]:
    """Run the checks on the application's database; with ``apply``, rename the planned duplicates.

    Returns:
        The report (read after the fix when ``apply``) and the number of addresses renamed.

    Raises:
        sqlalchemy.exc.DBAPIError: The database cannot be read.
        CLIError: A row changed between the plan and its application (nothing is renamed).
    """
    user_table, token_table = _table_names(config)
    engine = config.get_engine()
    compare = _compare_schema()
    async with engine.connect() as connection:
        report = await run_preflight(
            connection, user_table, token_table, config.target_metadata, compare_schema=compare
        )
    if not apply or not any(group.renames for group in report.duplicates):
        return report, 0
    async with engine.begin() as connection:
        renamed = await apply_fix(connection, user_table, report.duplicates)
    async with engine.connect() as connection:
        report = await run_preflight(
            connection, user_table, token_table, config.target_metadata, compare_schema=compare
        )
    return report, renamed


def _account(account: Account) -> str:
    flags = ", ".join(
        [
            "verified" if account.is_verified else "unverified",
            "active" if account.is_active else "inactive",
            f"last token {account.last_token}" if account.last_token else "no token",
        ]
    )
    return f"{account.email} (id {account.id}; {flags})"


def _print_duplicates(groups: list[DuplicateGroup]) -> None:
    typer.echo(f"Case duplicates (block the case-insensitive unique index): {len(groups)} groups")
    for group in groups:
        typer.echo(f"  {len(group.accounts)} accounts:")
        for account in group.accounts:
            typer.echo(f"    {_account(account)}")


def _print_plan(groups: list[DuplicateGroup]) -> None:
    typer.echo(f"Plan (renamed addresses get '{DUPLICATE_MARK}N' before the @; delete it to undo):")
    for group in groups:
        if group.refusal is not None:
            typer.echo(f"  refused: {group.refusal}")
            continue
        assert group.keeper is not None  # noqa: S101 - a plan without refusal has a keeper
        typer.echo(f"  keep   {group.keeper.email} (id {group.keeper.id})")
        for account, new_email in group.renames:
            typer.echo(f"  rename {account.email} -> {new_email} (id {account.id})")


def _print_report(report: PreflightReport) -> None:
    if report.duplicates:
        _print_duplicates(report.duplicates)
    else:
        typer.echo("Case duplicates: none")
    typer.echo(f"Look-alike addresses new registrations refuse (their owners still log in): {len(report.lookalikes)}")
    for account, problem in report.lookalikes:
        typer.echo(f"  {account.email} (id {account.id}): {problem}")
    if report.token_table is None:
        typer.echo("Access tokens: no access-token table")
    else:
        to_migrate = report.token_rows - report.odd_token_rows - report.migrated_token_rows
        typer.echo(
            f"Access tokens: {to_migrate} to migrate, {report.migrated_token_rows} migrated"
            f" ({report.token_rows} rows in {report.token_table}). FastAPI Users stores them in plain text,"
            " fastapi-userkit looks up a digest: migrate them in the upgrade's revision (migrate_sql_tokens)"
            " or with userkit db migrate-tokens, or their users log in again"
        )
        if report.odd_token_rows:
            typer.echo(f"  {report.odd_token_rows} of them are not 43-character base64url values")
    if report.redis_tokens is not None:
        typer.echo(
            f"Redis tokens: {report.redis_tokens} to migrate, {report.redis_migrated} migrated"
            f" (keys under {report.redis_prefix!r}). FastAPI Users stores them in plain text: migrate them with"
            " userkit db migrate-tokens --redis-url, or their users log in again"
        )
    if report.schema_changes is None:  # pragma: no cover - the test environment installs Alembic
        typer.echo("Schema changes: not compared (install the 'migrations' extra)")
    else:
        typer.echo(f"Schema changes the upgrade makes: {len(report.schema_changes)}")
        for change in report.schema_changes:
            typer.echo(f"  {change}")


def preflight_command(
    ctx: typer.Context,
    fix: Annotated[bool, typer.Option("--fix", help="Print a plan that renames case-duplicate addresses.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --fix: apply the plan.")] = False,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="Also count the tokens FastAPI Users' RedisStrategy stored here.")
    ] = None,
    redis_prefix: Annotated[
        str, typer.Option("--redis-prefix", help="The RedisStrategy's key_prefix.")
    ] = "fastapi_users_token:",
) -> None:
    """List what would stop or change the first upgrade of a FastAPI Users database; exit 1 if blocked."""
    state = get_state(ctx)

    async def run(config: UserkitCLIConfig) -> tuple[PreflightReport, int]:
        report, renamed = await preflight(config, apply=fix and yes)
        if redis_url is not None:
            report.redis_tokens, report.redis_migrated = await count_redis_tokens(redis_url, redis_prefix)
            report.redis_prefix = redis_prefix
        return report, renamed

    report, renamed = run_async(state, run)
    if renamed:
        typer.echo(f"Renamed {renamed} addresses.")
    _print_report(report)
    if fix and report.duplicates:
        _print_plan(report.duplicates)
        if not yes and any(group.renames for group in report.duplicates):
            typer.echo("Run again with --fix --yes to apply the plan.")
    blocked = report.blocking
    typer.echo("Blocking: case duplicates; the upgrade would fail." if blocked else "Nothing blocks the upgrade.")
    if blocked:
        raise typer.Exit(EXIT_ERROR)
