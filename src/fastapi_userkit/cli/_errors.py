"""Turning failures into one clear line on standard error and a non-zero exit code."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, NoSuchTableError

from fastapi_userkit import exceptions

__all__ = ["EXIT_DATABASE", "EXIT_ERROR", "CLIError", "describe", "fail"]

EXIT_ERROR = 1
"""Exit code of a refused operation or a configuration problem (e-mail taken, bad --app...)."""

EXIT_DATABASE = 3
"""Exit code when the database cannot be reached or lacks the tables (2 is usage errors)."""

_MISSING_TABLE_MARKERS = ("no such table", "does not exist", "doesn't exist", "undefinedtable")


class CLIError(Exception):
    """A failure the CLI reports as one line, with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _validation_message(exc: ValidationError) -> str:
    # Field names and reasons only: pydantic's own text repeats the input, which may be a password.
    return "; ".join(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors())


_DOMAIN_MESSAGES: tuple[tuple[type[exceptions.FastAPIUsersException], str], ...] = (
    (exceptions.UserAlreadyExists, "A user with this e-mail address already exists."),
    (exceptions.UserNotExists, "No user has this e-mail address."),
)


def _database_error(exc: DBAPIError) -> CLIError:
    detail = str(exc.orig) if exc.orig is not None else str(exc)
    first_line = detail.strip().splitlines()[0] if detail.strip() else type(exc).__name__
    if any(marker in detail.lower() for marker in _MISSING_TABLE_MARKERS):
        return CLIError(f"A table is missing ({first_line}): run 'userkit db upgrade' first.", EXIT_DATABASE)
    return CLIError(f"Database error: {first_line}", EXIT_DATABASE)


def describe(exc: BaseException) -> CLIError | None:
    """The :class:`CLIError` for an expected failure, or ``None`` for a bug."""
    error: CLIError | None = None
    if isinstance(exc, CLIError):
        error = exc
    elif isinstance(exc, exceptions.InvalidPasswordException):
        error = CLIError(f"Password refused: {exc.reason}")
    elif isinstance(exc, exceptions.FastAPIUsersException):
        message = next((text for kind, text in _DOMAIN_MESSAGES if isinstance(exc, kind)), exc.message)
        error = CLIError(message)
    elif isinstance(exc, ValidationError):
        error = CLIError(f"Invalid value: {_validation_message(exc)}")
    elif isinstance(exc, NoSuchTableError):
        error = CLIError(f"Table {exc} is missing: run 'userkit db upgrade' first.", EXIT_DATABASE)
    elif isinstance(exc, DBAPIError):
        error = _database_error(exc)
    elif isinstance(exc, OSError):
        error = CLIError(f"Cannot reach the database: {exc.strerror or exc}", EXIT_DATABASE)
    return error


def fail(error: CLIError) -> NoReturn:
    """Print ``error`` on standard error and exit with its code."""
    typer.secho(f"Error: {error.message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(error.exit_code)
