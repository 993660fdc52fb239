"""``userkit mfa``: second factors of users, for an operator (issue 18, item 6).

``userkit mfa reset EMAIL`` removes a user's TOTP factor, recovery codes and pending login
challenges (a lost phone and lost codes), so the user signs in with the password alone and can
enrol again. The tables are found by their names (``mfa_totp``, ``mfa_recovery_code``,
``mfa_challenge``, as the mixins of :mod:`fastapi_userkit.mfa` declare them) in the config's
metadata, so the CLI config needs no new field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from sqlalchemy import MetaData, Table, delete

from fastapi_userkit.cli._errors import CLIError
from fastapi_userkit.cli._state import get_state, run_async
from fastapi_userkit.cli.config import UserkitCLIConfig
from fastapi_userkit.cli.operations import manager_session
from fastapi_userkit.security.events import SecurityEventType

__all__ = ["MFA_TABLES", "mfa_app", "reset_mfa"]

MFA_TABLES = ("mfa_challenge", "mfa_recovery_code", "mfa_totp")
"""The two-factor tables, in the order their rows are deleted."""

mfa_app = typer.Typer(help="Manage users' second factors (two-factor login).", no_args_is_help=True)


def _tables(config: UserkitCLIConfig) -> list[Table]:
    found = config.target_metadata
    metadatas: Sequence[MetaData] = [found] if isinstance(found, MetaData) else list(found)
    tables = [metadata.tables[name] for name in MFA_TABLES for metadata in metadatas if name in metadata.tables]
    if not any(table.name == "mfa_totp" for table in tables):
        raise CLIError("The application's metadata has no mfa_totp table: is two-factor login set up?")
    return tables


async def reset_mfa(config: UserkitCLIConfig, email: str) -> tuple[Any, bool]:
    """Remove every second factor of the user ``email``; return the user and whether a factor was there.

    Raises:
        UserNotExists: No user has this address.
        CLIError: The config's metadata has no two-factor tables.
    """
    tables = _tables(config)
    async with manager_session(config) as manager:
        user = await manager.get_by_email(email)
        removed = False
        async with config.get_session_maker()() as session:
            for table in tables:
                result: Any = await session.execute(delete(table).where(table.c.user_id == user.id))
                removed = removed or (table.name == "mfa_totp" and result.rowcount > 0)
            await session.commit()
        if removed:
            await manager.emit_security_event(
                SecurityEventType.MFA_DISABLED, None, user_id=user.id, details={"by": "cli"}
            )
        return user, removed


@mfa_app.command("reset")
def reset(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's e-mail address.", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", help="Reset without asking for confirmation.")] = False,
) -> None:
    """Remove a user's second factors: they sign in with the password alone until they enrol again."""
    if not yes:
        typer.confirm(f"Remove the second factors of {email}?", abort=True)
    user, removed = run_async(get_state(ctx), lambda config: reset_mfa(config, email))
    if removed:
        typer.echo(f"Removed the second factors of {user.email}.")
    else:
        typer.echo(f"{user.email} had no second factor.")
