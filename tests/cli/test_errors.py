"""``userkit`` reports configuration and database problems in one line, with an exit code, never a traceback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from fastapi_userkit.cli import UserkitCLIConfig
from fastapi_userkit.cli.app import app
from fastapi_userkit.exceptions import ConfigurationError
from tests.cli.cliapp import URL_VARIABLE
from tests.conftest import EngineFactory
from tests.models import User

PASSWORD = "correct-horse-battery-staple-42"
USERKIT = Path(sys.executable).parent / "userkit"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner without USERKIT_APP in the environment."""
    monkeypatch.delenv("USERKIT_APP", raising=False)
    return CliRunner()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-colon", "must look like 'module:attribute'"),
        ("tests.cli.no_such_module:config", "Cannot import module 'tests.cli.no_such_module'"),
        ("tests.cli.cliapp:missing", "has no attribute 'missing'"),
        ("tests.cli.cliapp:not_a_config", "is a int, not a UserkitCLIConfig"),
    ],
)
def test_bad_app_is_reported(runner: CliRunner, spec: str, message: str) -> None:
    """A malformed or wrong --app exits 1 with one explanatory line."""
    result = runner.invoke(app, ["--app", spec, "list-users"])

    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_missing_app_is_reported(runner: CliRunner) -> None:
    """Without --app or USERKIT_APP a command exits 1 and says how to name the app."""
    result = runner.invoke(app, ["list-users"])

    assert result.exit_code == 1
    assert "--app module:attribute or USERKIT_APP" in result.stderr


def test_app_from_environment_variable(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """USERKIT_APP names the app when --app is absent."""
    monkeypatch.setenv(URL_VARIABLE, f"sqlite+aiosqlite:///{tmp_path / 'none.db'}")

    result = runner.invoke(app, ["list-users"], env={"USERKIT_APP": "tests.cli.cliapp:config"})

    # The app was found: the failure is now the missing table, not the configuration.
    assert result.exit_code == 3
    assert "run 'userkit db upgrade' first" in result.stderr


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:{port}/test",
        "mysql+asyncmy://root@127.0.0.1:{port}/test",
    ],
)
def test_unreachable_database_exits_3(runner: CliRunner, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """No server listening exits 3 with one line, no traceback."""
    monkeypatch.setenv(URL_VARIABLE, url.format(port=_closed_port()))

    result = runner.invoke(app, ["--app", "tests.cli.cliapp:config", "list-users"])

    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
async def test_missing_table_exits_3(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, engine_for: EngineFactory, backend: str
) -> None:
    """A database without the user table exits 3 and suggests 'userkit db upgrade'."""
    engine = await engine_for(backend)
    monkeypatch.setenv(URL_VARIABLE, engine.url.render_as_string(hide_password=False))

    result = await asyncio.to_thread(runner.invoke, app, ["--app", "tests.cli.cliapp:ghost", "list-users"])

    assert result.exit_code == 3
    assert "A table is missing" in result.stderr
    assert "userkit_cli_ghost_user" in result.stderr


def test_unexpected_errors_are_one_line_unless_traceback(runner: CliRunner, tmp_path: Path) -> None:
    """A bug surfaces as one line; --traceback lets the exception through for debugging."""
    bad_csv = tmp_path / "users.csv"
    bad_csv.write_bytes(b"\xff\xfe\x00not utf-8")

    result = runner.invoke(app, ["--app", "tests.cli.cliapp:config", "import-users", str(bad_csv)])
    debug = runner.invoke(app, ["--app", "tests.cli.cliapp:config", "--traceback", "import-users", str(bad_csv)])

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Unexpected UnicodeDecodeError")
    assert isinstance(debug.exception, UnicodeDecodeError)


def test_unreadable_csv_file_is_reported(runner: CliRunner, tmp_path: Path) -> None:
    """A CSV path that does not exist exits 1 naming the file."""
    result = runner.invoke(app, ["--app", "tests.cli.cliapp:config", "import-users", str(tmp_path / "nope.csv")])

    assert result.exit_code == 1
    assert "Cannot read" in result.stderr


@pytest.mark.parametrize(
    ("csv_text", "message"), [("", "The CSV file is empty"), ("email,name\n", "needs 'email' and 'password'")]
)
def test_csv_without_the_needed_columns_is_refused(runner: CliRunner, csv_text: str, message: str) -> None:
    """An empty CSV or one without a password column exits 1 before touching the database."""
    result = runner.invoke(app, ["--app", "tests.cli.cliapp:config", "import-users", "-"], input=csv_text)

    assert result.exit_code == 1
    assert message in result.stderr


def test_config_needs_exactly_one_database_handle() -> None:
    """UserkitCLIConfig refuses neither/both of engine and session_maker, and unmapped models."""
    with pytest.raises(ConfigurationError, match="exactly one of engine and session_maker"):
        UserkitCLIConfig(user_model=User)
    with pytest.raises(ConfigurationError, match="not a mapped class"):
        UserkitCLIConfig(user_model=int, engine=create_async_engine("sqlite+aiosqlite://"))


def _subprocess_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "USERKIT_APP": "tests.cli.cliapp:minimal",
        URL_VARIABLE: f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
    }


def test_console_script_runs_in_a_real_process(tmp_path: Path) -> None:
    """The installed 'userkit' script creates the tables' user and lists it, in separate processes."""
    env = _subprocess_env(tmp_path)
    repo = Path(__file__).resolve().parents[2]
    init = subprocess.run(
        [sys.executable, "-c", "import asyncio, tests.cli.subprocess_setup as s; asyncio.run(s.create_tables())"],
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr

    created = subprocess.run(  # noqa: S603 - fixed arguments, our own console script
        [str(USERKIT), "create-user", "--email", "arthur@camelot.bt", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    listed = subprocess.run(
        [sys.executable, "-m", "fastapi_userkit.cli", "list-users"],
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )

    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    assert listed.returncode == 0, listed.stderr
    assert "arthur@camelot.bt" in listed.stdout


def test_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    """In a real process a missing table exits 3 with one line on stderr."""
    repo = Path(__file__).resolve().parents[2]

    result = subprocess.run(  # noqa: S603 - fixed arguments, our own console script
        [str(USERKIT), "list-users"],
        env=_subprocess_env(tmp_path),
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 3
    assert result.stderr.strip().startswith("Error: A table is missing")
    assert "Traceback" not in result.stderr


def test_main_runs_the_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """fastapi_userkit.cli.main (the console script's target) runs the Typer app."""
    from fastapi_userkit.cli import main

    monkeypatch.setattr(sys, "argv", ["userkit", "--help"])

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 0
    assert "create-user" in capsys.readouterr().out
