"""The ``userkit migrate-from-fastapi-users`` and ``userkit check --deploy`` examples of the docs, run as shown."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastapi_userkit.cli.app import app
from tests.readme_examples import documentation, run_examples

SAMPLE = Path(__file__).parent / "fastapi_users_sample"


def _console(command_start: str) -> tuple[list[str], list[str]]:
    """The documented console block whose command starts with ``command_start``: its argv and output lines."""
    text = "\n".join(path.read_text() for path in documentation())
    blocks = re.findall(r"```console\n(.*?)```", text, re.DOTALL)
    block = next(block for block in blocks if block.startswith(f"$ {command_start}"))
    command, *output = block.splitlines()
    return shlex.split(command[2:])[1:], [line.rstrip() for line in output]


def test_migrate_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The codemod prints the README's diff and summary for the FastAPI Users documentation's schemas.py."""
    argv, expected = _console("userkit migrate-from-fastapi-users")
    (tmp_path / "app").mkdir()
    shutil.copyfile(SAMPLE / "app" / "schemas.py.sample", tmp_path / "app" / "schemas.py")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, argv)

    assert result.exit_code == 1  # a dry run with something left to change
    assert [line.rstrip() for line in result.output.splitlines()] == expected


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_check_deploy_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``check --deploy`` on the quickstart with the README's config prints the README's findings and exits 1."""
    argv, expected = _console("userkit --app myapp.userkit:config check --deploy")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    namespace = run_examples("quickstart", "deploy-check")
    module = namespace["__name__"]

    result = CliRunner().invoke(app, [argument.replace("myapp.userkit", module) for argument in argv])

    assert result.exit_code == 1
    assert result.output.splitlines() == expected
