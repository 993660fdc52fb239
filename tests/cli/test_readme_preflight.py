"""The README's ``userkit db preflight`` example, run as shown on the quickstart's database."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from fastapi_userkit.cli.app import app
from tests.cli import fastapi_users_schema as fu
from tests.cli.test_readme_cli import _console
from tests.readme_examples import run_examples

ROWS = (
    ("0b6f1a52-6d3c-4d1e-9a43-2f1e5c7d8a01", "Arthur@Camelot.bt", True),
    ("5d1e2c3b-8f7a-4b6c-9d0e-1f2a3b4c5d02", "arthur@camelot.bt", False),
    ("9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c03", "guinevere@camelot.bt", True),
)


async def _fastapi_users_database(engine: AsyncEngine) -> None:
    await fu.create(engine, with_tokens=False)
    async with engine.begin() as connection:
        for user_id, email, verified in ROWS:
            row = {"id": uuid.UUID(user_id), "email": email, "hashed_password": "x", "is_verified": verified}
            await connection.execute(insert(fu.users).values(is_active=True, is_superuser=False, **row))
    await engine.dispose()


def test_preflight_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``db preflight --fix`` on the quickstart's FastAPI Users database prints the README's report and exits 1."""
    argv, expected = _console("userkit --app myapp.userkit:config db preflight")
    monkeypatch.chdir(tmp_path)
    namespace = run_examples("quickstart", "deploy-check")
    asyncio.run(_fastapi_users_database(namespace["engine"]))
    module = namespace["__name__"]

    result = CliRunner().invoke(app, [argument.replace("myapp.userkit", module) for argument in argv])

    assert result.exit_code == 1
    assert result.output.splitlines() == expected
