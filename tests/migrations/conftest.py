"""An empty database per test on SQLite, PostgreSQL and MariaDB, and a runner for ``userkit db``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from fastapi_userkit.cli.app import app
from tests.cli.cliapp import URL_VARIABLE
from tests.conftest import MARIADB_ADMIN_URL, POSTGRES_ADMIN_URL, RUN_ID, require_service

MIGRATION_DB = f"{RUN_ID}_mig"


async def _admin(backend: str, statement: str) -> None:
    url = POSTGRES_ADMIN_URL if backend == "postgresql" else MARIADB_ADMIN_URL
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_url(any_backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of each backend; dropped after the test."""
    if any_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    require_service(any_backend)
    force = " WITH (FORCE)" if any_backend == "postgresql" else ""
    await _admin(any_backend, f"DROP DATABASE IF EXISTS {MIGRATION_DB}{force}")
    await _admin(any_backend, f"CREATE DATABASE {MIGRATION_DB}")
    if any_backend == "postgresql":
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{MIGRATION_DB}"
    else:
        yield f"mysql+asyncmy://root@127.0.0.1:3306/{MIGRATION_DB}?charset=utf8mb4"
    await _admin(any_backend, f"DROP DATABASE IF EXISTS {MIGRATION_DB}{force}")


@dataclass
class Project:
    """An application folder where ``userkit db`` commands run."""

    root: Path
    url: str
    runner: CliRunner

    def userkit(self, *args: str) -> Result:
        """Run ``userkit --app tests.cli.cliapp:config ARGS`` with the project's alembic.ini."""
        return self.runner.invoke(app, ["--app", "tests.cli.cliapp:config", *args])

    def db(self, command: str, *args: str) -> Result:
        """Run ``userkit db COMMAND --ini <project>/alembic.ini ARGS``."""
        return self.userkit("db", command, "--ini", str(self.root / "alembic.ini"), *args)

    def versions(self) -> list[Path]:
        """The revision files written so far."""
        return sorted((self.root / "migrations" / "versions").glob("*.py"))


@pytest.fixture
def project(empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project folder whose application points at the empty database."""
    monkeypatch.setenv(URL_VARIABLE, empty_url)
    monkeypatch.delenv("USERKIT_APP", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    return Project(root, empty_url, CliRunner())
