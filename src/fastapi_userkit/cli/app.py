"""The ``userkit`` command: user administration and database migrations for a fastapi-userkit app."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from fastapi_userkit.cli import operations
from fastapi_userkit.cli._errors import EXIT_ERROR, CLIError
from fastapi_userkit.cli._state import CLIState, get_state, guard, run_async
from fastapi_userkit.cli.db import db_app
from fastapi_userkit.cli.deploy_check import check_command
from fastapi_userkit.cli.importer import import_users as run_import
from fastapi_userkit.cli.importer import read_rows
from fastapi_userkit.cli.mfa import mfa_app
from fastapi_userkit.cli.migrate import migrate_command

__all__ = ["app"]

app = typer.Typer(
    name="userkit",
    help="Administer the users of a fastapi-userkit application and migrate its database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(mfa_app, name="mfa")
app.command("migrate-from-fastapi-users")(migrate_command)
app.command("check")(check_command)

EmailArgument = Annotated[str, typer.Argument(help="The user's e-mail address.", show_default=False)]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]


def _console() -> Console:
    # Outside a terminal, a wide fixed width keeps each row on one line for pipes and logs.
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


def _read_password(from_stdin: bool) -> str:
    """Read a new password without ever echoing it."""
    if from_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\r\n")
        if not password:
            raise CLIError("No password on standard input")
        return password
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


@app.callback()
def root(
    ctx: typer.Context,
    app_spec: Annotated[
        str | None,
        typer.Option(
            "--app",
            envvar="USERKIT_APP",
            help="The application: 'module:attribute' naming a fastapi_userkit.cli.UserkitCLIConfig.",
        ),
    ] = None,
    traceback: Annotated[bool, typer.Option("--traceback", help="Show the traceback of unexpected errors.")] = False,
) -> None:
    """Administer the users of a fastapi-userkit application and migrate its database."""
    ctx.obj = CLIState(app_spec=app_spec, traceback=traceback)


@app.command("create-user")
def create_user(
    ctx: typer.Context,
    email: Annotated[str, typer.Option("--email", help="The new user's e-mail address.", show_default=False)],
    superuser: Annotated[bool, typer.Option("--superuser", help="Make the user a superuser.")] = False,
    verified: Annotated[bool, typer.Option("--verified", help="Mark the e-mail address as verified.")] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an active user (the first superuser, for instance); prompts for the password."""
    state = get_state(ctx)
    password = guard(state, lambda: _read_password(password_stdin))
    user = run_async(
        state, lambda config: operations.create_user(config, email, password, superuser=superuser, verified=verified)
    )
    kind = "superuser" if superuser else "user"
    typer.echo(f"Created {kind} {user.email} (id {user.id}).")


@app.command("set-password")
def set_password(ctx: typer.Context, email: EmailArgument, password_stdin: PasswordStdin = False) -> None:
    """Set a user's password (their other sessions end); prompts for the password."""
    state = get_state(ctx)
    password = guard(state, lambda: _read_password(password_stdin))
    user = run_async(state, lambda config: operations.set_password(config, email, password))
    typer.echo(f"Password of {user.email} changed.")
    _note_unreached_stores(ctx)


@app.command("deactivate")
def deactivate(ctx: typer.Context, email: EmailArgument) -> None:
    """Deactivate a user: they can no longer log in, and their sessions end."""
    user = run_async(get_state(ctx), lambda config: operations.set_active(config, email, active=False))
    typer.echo(f"Deactivated {user.email}.")
    _note_unreached_stores(ctx)


@app.command("activate")
def activate(ctx: typer.Context, email: EmailArgument) -> None:
    """Reactivate a deactivated user."""
    user = run_async(get_state(ctx), lambda config: operations.set_active(config, email, active=True))
    typer.echo(f"Activated {user.email}.")


@app.command("delete-user")
def delete_user(
    ctx: typer.Context,
    email: EmailArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking for confirmation.")] = False,
) -> None:
    """Delete a user, their tokens and sessions (the manager's delete hooks run)."""
    if not yes:
        typer.confirm(f"Delete {email} and end all their sessions?", abort=True)
    user = run_async(get_state(ctx), lambda config: operations.delete_user(config, email))
    typer.echo(f"Deleted {user.email}.")
    _note_unreached_stores(ctx)


def _note_unreached_stores(ctx: typer.Context) -> None:
    """Say so when the config names no store outside the user's tables: those sessions were not ended."""
    if not get_state(ctx).config().ends_outside_sessions:
        typer.secho(
            "Note: the CLI config names no session_strategies or session_stores, so tokens and sessions kept "
            "outside the user's tables (Redis tokens, a revoked-token table, Redis sessions) were not ended.",
            err=True,
            fg=typer.colors.YELLOW,
        )


def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


@app.command("list-users")
def list_users(
    ctx: typer.Context,
    page: Annotated[int, typer.Option("--page", min=1, help="Page number, from 1.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=1000, help="Users per page.")] = 50,
    search: Annotated[str | None, typer.Option("--search", help="Only addresses containing this text.")] = None,
) -> None:
    """List users, ordered by e-mail address, one page at a time."""
    result = run_async(
        get_state(ctx), lambda config: operations.list_users(config, page=page, page_size=page_size, search=search)
    )
    table = Table("E-mail", "Id", "Active", "Superuser", "Verified")
    for user in result.users:
        table.add_row(user.email, str(user.id), _yes(user.is_active), _yes(user.is_superuser), _yes(user.is_verified))
    console = _console()
    console.print(table)
    console.print(f"Page {result.page} of {result.pages} ({result.total} users)")


@app.command("purge-tokens")
def purge_tokens(
    ctx: typer.Context,
    lifetime_seconds: Annotated[
        int,
        typer.Option(
            "--lifetime-seconds",
            min=1,
            help="The database strategy's lifetime: older tokens are deleted.",
            show_default=False,
        ),
    ],
) -> None:
    """Delete expired access tokens of the database strategy."""
    with _console().status("Deleting expired tokens..."):
        deleted = run_async(get_state(ctx), lambda config: operations.purge_tokens(config, lifetime_seconds))
    typer.echo(f"Deleted {deleted} expired tokens.")


@app.command("import-users")
def import_users(
    ctx: typer.Context,
    csv_file: Annotated[Path, typer.Argument(help="CSV file with a header row; '-' reads standard input.")],
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="Skip addresses that already exist instead of reporting them.")
    ] = False,
) -> None:
    """Create users from a CSV file (email, password or hashed_password, flags), with a progress bar."""
    state = get_state(ctx)

    def read() -> list[dict[str, str]]:
        if str(csv_file) == "-":
            return read_rows(typer.get_text_stream("stdin").read())
        try:
            return read_rows(csv_file.read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise CLIError(f"Cannot read {csv_file}: {exc.strerror}") from exc

    rows = guard(state, read)
    columns = (TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=_console(), transient=False) as progress:
        task = progress.add_task("import", total=len(rows))
        report = run_async(
            state,
            lambda config: run_import(
                config, rows, skip_existing=skip_existing, advance=lambda: progress.advance(task)
            ),
        )
    for error in report.errors:
        typer.secho(error, err=True, fg=typer.colors.RED)
    typer.echo(f"Created {report.created} users, skipped {report.skipped}, refused {len(report.errors)}.")
    if report.errors:
        raise typer.Exit(EXIT_ERROR)
