"""``userkit check --deploy``: audit the configured application for production (issue 21 item 4).

Like Django's ``manage.py check --deploy``: each finding is one line with a stable code
(``UK-E001 error: ...``; the table is in :mod:`fastapi_userkit.cli._deploy_checks`), then a
summary. The exit code is 1 when any finding is an error, so CI can gate a deployment on it.

What is inspected: the user manager the config builds (its reset and verification secrets, and
a fresh hash from its password helper), and with ``UserkitCLIConfig.fastapi_users`` its
backends (transports, refresh settings, and each strategy whose factory takes no parameters),
its security settings, and with ``UserkitCLIConfig.app`` the application's middleware. The
number of workers comes from ``--workers`` or ``WEB_CONCURRENCY`` (read by uvicorn and gunicorn).
Nothing is written, and the database is not queried.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from fastapi_userkit.cli._deploy_checks import AUDITS, BuiltBackend, DeployContext, Finding, audit_hashing
from fastapi_userkit.cli._errors import EXIT_ERROR, CLIError, fail
from fastapi_userkit.cli._state import get_state, run_async
from fastapi_userkit.cli.config import UserkitCLIConfig
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.password import hash_password

__all__ = ["audit", "check_command"]

_LEVEL_ORDER = {"error": 0, "warning": 1, "note": 2}
_SAMPLE_PASSWORD = "userkit check --deploy sample"  # noqa: S105 - hashed once to read the parameters


async def _build_strategy(backend: Any) -> Any | None:
    """The backend's strategy when its factory takes no parameters (nothing from a request); else ``None``."""
    factory = backend.get_strategy
    if (
        inspect.signature(factory).parameters
        or inspect.isasyncgenfunction(factory)
        or inspect.isgeneratorfunction(factory)
    ):
        return None
    strategy = factory()
    if inspect.isawaitable(strategy):
        strategy = await strategy
    return strategy


async def audit(config: UserkitCLIConfig, workers: int, environ: Mapping[str, str]) -> list[Finding]:
    """Run every audit on ``config``; the findings, errors first.

    Raises:
        Exception: Whatever the application's manager factory, or a strategy factory without
            parameters, raises (the command reports it in one line).
    """
    async with config.get_session_maker()() as session:
        # Built as the CLI's other commands build it; nothing here reaches the database.
        manager = config.make_user_manager(SQLAlchemyUserDatabase(session, config.user_model))
    fastapi_users = config.fastapi_users
    backends = fastapi_users.authenticator.backends if fastapi_users is not None else ()
    built = [BuiltBackend(backend, await _build_strategy(backend)) for backend in backends]

    async def hash_sample() -> str:
        return await hash_password(manager.password_helper, _SAMPLE_PASSWORD)

    context = DeployContext(
        database_url=config.get_engine().url,
        workers=workers,
        user_manager=manager,
        security=fastapi_users.security if fastapi_users is not None else None,
        backends=built,
        app=config.app,
        environ=environ,
        hash_sample=hash_sample,
    )
    findings = [finding for run in AUDITS for finding in run(context)]
    findings += await audit_hashing(context)
    missing = [name for name, value in (("fastapi_users", fastapi_users), ("app", config.app)) if value is None]
    if missing:
        findings.append(
            Finding("UK-I003", "note", f"UserkitCLIConfig has no {' nor '.join(missing)}: their audits were skipped")
        )
    return sorted(findings, key=lambda finding: (_LEVEL_ORDER[finding.level], finding.code, finding.message))


def check_command(
    ctx: typer.Context,
    deploy: Annotated[bool, typer.Option("--deploy", help="Audit the configuration for production.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", envvar="WEB_CONCURRENCY", min=1, help="Worker processes of the deployment (WEB_CONCURRENCY)."
        ),
    ] = 1,
) -> None:
    """Audit the application's configuration (--deploy): one line per finding, exit 1 on an error."""
    if not deploy:
        fail(CLIError("Nothing to check: run 'userkit check --deploy'", 2))
    findings = run_async(get_state(ctx), lambda config: audit(config, workers, dict(os.environ)))
    for finding in findings:
        typer.echo(str(finding))
    counts = {level: sum(finding.level == level for finding in findings) for level in _LEVEL_ORDER}
    typer.echo(f"{counts['error']} errors, {counts['warning']} warnings, {counts['note']} notes.")
    if counts["error"]:
        raise typer.Exit(EXIT_ERROR)
