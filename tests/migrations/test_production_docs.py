"""The README's "Going to production" section (``docs_snippets/production.md``) runs as written.

Its files are written into a project folder, its console blocks run in bash with the installed
``userkit`` command, and the application it builds sends its e-mails to a real SMTP server.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from fastapi_userkit.authentication import RedisStrategy
from tests.mail.conftest import SMTPServer, plain_smtp_server

SNIPPET = Path(__file__).resolve().parents[2] / "docs_snippets" / "production.md"
ADMIN_PASSWORD = "correct-horse-battery-staple-42"
NEW_PASSWORD = "another-long-passphrase-for-camelot"
_FILE = re.compile(r"<!-- file: (?P<path>[\w/.]+) -->\s*```python\n(?P<code>.*?)```", re.DOTALL)
_RUN = re.compile(r"<!-- run -->\s*```console\n(?P<code>.*?)```", re.DOTALL)
_PYTHON = re.compile(r"(?<!-->\n)```python\n(?P<code>.*?)```", re.DOTALL)


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    """A real SMTP server on loopback."""
    with plain_smtp_server() as server:
        yield server


@pytest.fixture
def project(empty_url: str, tmp_path: Path, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The documented files written into a folder, with the environment the section asks for."""
    markdown = SNIPPET.read_text()
    for match in _FILE.finditer(markdown):
        target = tmp_path / match["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(match["code"])
    (tmp_path / "myapp" / "__init__.py").touch()
    environment = {
        "DATABASE_URL": empty_url,
        "SECRET": "production-secret-for-the-docs-test-0123456789",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("USERKIT_APP", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [name for name in sys.modules if name == "myapp" or name.startswith("myapp.")]:
        del sys.modules[name]


def _run_console_blocks(project: Path) -> str:
    """Run every ``<!-- run -->`` console block in one bash session; return its output."""
    commands = [
        line.removeprefix("$ ")
        for match in _RUN.finditer(SNIPPET.read_text())
        for line in match["code"].splitlines()
        if line.startswith("$ ")
    ]
    script = "set -euo pipefail\n" + "\n".join(commands)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(  # noqa: S603 - runs our own documentation
        ["/bin/bash", "-c", script], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def _reset_admin_password(smtp: SMTPServer) -> tuple[str, str]:
    """Through the documented manager: forgot-password, then reset with the e-mailed token."""
    from myapp.db import User, async_session_maker, engine  # type: ignore[import-not-found]  # written by the test
    from myapp.users import UserManager  # type: ignore[import-not-found]  # written by the test

    from fastapi_userkit.db import SQLAlchemyUserDatabase

    try:
        async with async_session_maker() as session:
            manager = UserManager(SQLAlchemyUserDatabase(session, User))
            user = await manager.get_by_email("admin@example.com")
            await manager.forgot_password(user)
            plain = smtp.received[0].message.get_body(preferencelist=("plain",))
            assert isinstance(plain, EmailMessage)
            body = plain.get_content()
            found = re.search(r"https://app\.example\.com/reset-password\?token=([\w.%-]+)", body)
            assert found is not None
            await manager.reset_password(found.group(1), NEW_PASSWORD)
    finally:
        await engine.dispose()
    return smtp.received[0].message["Subject"], smtp.received[1].message["Subject"]


@pytest.mark.slow
def test_going_to_production_section_runs(project: Path, smtp: SMTPServer) -> None:
    """Migrations, the first superuser and the SMTP mailer work exactly as the section shows."""
    output = _run_console_blocks(project)

    subjects = asyncio.run(_reset_admin_password(smtp))

    assert "admin@example.com" in output
    assert re.search(r"admin@example\.com\s.*\byes\b", output), output
    assert sorted(path.name for path in (project / "migrations" / "versions").glob("*.py"))
    assert subjects == ("Reset your Example password", "Your Example password was changed")
    assert [received.recipients for received in smtp.received] == [["admin@example.com"]] * 2


def test_redis_strategy_example_builds_a_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The section's Redis strategy example runs and builds a RedisStrategy (no connection yet)."""
    [code] = [match["code"] for match in _PYTHON.finditer(SNIPPET.read_text()) if "RedisStrategy" in match["code"]]
    namespace: dict[str, Any] = {}
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")

    exec(compile(code, str(SNIPPET), "exec"), namespace)  # noqa: S102 - runs our own documentation

    assert isinstance(namespace["get_redis_strategy"](), RedisStrategy)
    asyncio.run(namespace["redis_client"].aclose())
