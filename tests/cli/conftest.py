"""Fixtures for CLI tests: a runner pointed at the test application on each database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from fastapi_userkit.cli.app import app
from tests.cli.cliapp import URL_VARIABLE
from tests.conftest import SessionMaker

T = TypeVar("T")


@dataclass
class CLI:
    """Runs ``userkit`` in-process against one test database."""

    session_maker: SessionMaker
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None, app_spec: str = "tests.cli.cliapp:config") -> Result:
        """Invoke ``userkit --app APP_SPEC ARGS``."""
        return self.runner.invoke(app, ["--app", app_spec, *args], input=input)

    def query(self, work: Callable[[SessionMaker], Coroutine[Any, Any, T]]) -> T:
        """Run an async check against the database from a synchronous test."""
        return asyncio.run(work(self.session_maker))


@pytest.fixture
def cli(db: SessionMaker, monkeypatch: pytest.MonkeyPatch) -> CLI:
    """A CLI on a fresh schema of the test app, on SQLite, PostgreSQL and MariaDB."""
    engine: Any = db.kw["bind"]
    monkeypatch.setenv(URL_VARIABLE, engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("USERKIT_APP", raising=False)
    return CLI(db, CliRunner())
