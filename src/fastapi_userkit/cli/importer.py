"""Bulk import of users from CSV: one row per user, each row created on its own.

Columns (header row required): ``email``, then ``password`` (hashed by the application's
manager, so its policy applies) or ``hashed_password`` (an Argon2 or bcrypt hash carried over
from another system; it is upgraded to the current parameters at the user's next login), and
optionally ``is_superuser``, ``is_verified``, ``is_active`` (``true``/``false``, ``1``/``0``,
``yes``/``no``). Other columns are ignored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from fastapi_userkit import exceptions
from fastapi_userkit.cli._errors import CLIError, describe
from fastapi_userkit.cli.config import UserkitCLIConfig
from fastapi_userkit.cli.operations import manager_session
from fastapi_userkit.schemas import BaseUserCreate

__all__ = ["ImportReport", "import_users", "read_rows"]

_FLAGS = ("is_superuser", "is_verified", "is_active")
_TRUE, _FALSE = {"1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f", ""}
_EMAIL = TypeAdapter(EmailStr)


@dataclass
class ImportReport:
    """What an import did: counts, and one message per refused row (never a password)."""

    created: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def read_rows(text: str) -> list[dict[str, str]]:
    """Parse CSV text into rows keyed by the (lower-cased) header.

    Raises:
        CLIError: No header, or neither a ``password`` nor a ``hashed_password`` column.
    """
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise CLIError("The CSV file is empty")
    header = [name.strip().lower() for name in reader.fieldnames]
    if "email" not in header or not {"password", "hashed_password"} & set(header):
        raise CLIError("The CSV header needs 'email' and 'password' or 'hashed_password'")
    reader.fieldnames = header
    return [{key: (value or "").strip() for key, value in row.items() if key is not None} for row in reader]


def _flag(row: dict[str, str], name: str, default: bool) -> bool:
    value = row.get(name, "").lower()
    if name not in row or value == "":
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CLIError(f"{name} must be true or false, not {value!r}")


async def _import_row(config: UserkitCLIConfig, row: dict[str, str], *, skip_existing: bool) -> bool:
    """Create one user; return False when it exists and ``skip_existing`` is on."""
    flags = {name: _flag(row, name, name == "is_active") for name in _FLAGS}
    email = row.get("email", "")
    async with manager_session(config) as manager:
        if skip_existing and await manager.user_db.get_by_email(email) is not None:
            return False
        hashed = row.get("hashed_password", "")
        if hashed:
            if not hashed.startswith("$"):
                raise CLIError("hashed_password is not an Argon2 or bcrypt hash")
            address = _EMAIL.validate_python(email)
            if await manager.user_db.get_by_email(address) is not None:
                raise exceptions.UserAlreadyExists()
            await manager.user_db.create({"email": address, "hashed_password": hashed, **flags})
        else:
            await manager.create(BaseUserCreate(email=email, password=row.get("password", ""), **flags), safe=False)
    return True


async def import_users(
    config: UserkitCLIConfig,
    rows: Iterable[dict[str, str]],
    *,
    skip_existing: bool = False,
    advance: Callable[[], Any] = lambda: None,
) -> ImportReport:
    """Create a user per row; a refused row is reported and the import goes on.

    Args:
        config: The application.
        rows: Rows from :func:`read_rows`; line numbers count the header as line 1.
        skip_existing: Count an address that already exists as skipped rather than an error.
        advance: Called after each row (drives the progress bar).
    """
    report = ImportReport()
    for line, row in enumerate(rows, start=2):
        try:
            created = await _import_row(config, row, skip_existing=skip_existing)
        except (CLIError, exceptions.FastAPIUsersException, ValidationError) as exc:
            error = describe(exc)
            report.errors.append(f"line {line}: {error.message if error else exc}")
        else:
            if created:
                report.created += 1
            else:
                report.skipped += 1
        advance()
    return report
