"""``userkit migrate-from-fastapi-users``: dry run, --write, the files it walks, exit codes and summary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fastapi_userkit.cli.app import app
from fastapi_userkit.cli.migrate import iter_python_files

OLD = "from fastapi_users import FastAPIUsers  # kept comment\n"
NEW = "from fastapi_userkit import FastAPIUsers  # kept comment\n"


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["migrate-from-fastapi-users", *args])


def test_dry_run_prints_a_diff_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default prints a git-style unified diff, leaves the file, and exits 1 since work remains."""
    monkeypatch.chdir(tmp_path)
    Path("users.py").write_text(OLD)

    result = _run("users.py")

    assert result.exit_code == 1
    assert result.stdout == f"--- a/users.py\n+++ b/users.py\n@@ -1 +1 @@\n-{OLD}+{NEW}"
    assert Path("users.py").read_text() == OLD
    assert result.stderr == (
        "Would change 1 of 1 files: 1 imports and 0 string references rewritten;"
        " 0 left to check by hand; 0 unreadable.\n"
    )


def test_dry_run_of_an_absolute_path_names_it_as_given(tmp_path: Path) -> None:
    """An absolute path is printed without git's a/ and b/ prefixes."""
    target = tmp_path / "users.py"
    target.write_text(OLD)

    result = _run(str(target))

    assert result.stdout.startswith(f"--- {target.as_posix()}\n+++ {target.as_posix()}\n")


def test_write_applies_and_exits_0(tmp_path: Path) -> None:
    """--write rewrites the file in place, prints no diff, and a second run has nothing to do."""
    target = tmp_path / "users.py"
    target.write_text(OLD)

    applied = _run(str(tmp_path), "--write")
    again = _run(str(tmp_path))

    assert (applied.exit_code, applied.stdout) == (0, "")
    assert target.read_text() == NEW
    assert applied.stderr.startswith("Changed 1 of 1 files: 1 imports")
    assert (again.exit_code, again.stdout) == (0, "")
    assert again.stderr.startswith("Would change 0 of 1 files")


def test_write_keeps_the_declared_encoding(tmp_path: Path) -> None:
    """A file declaring latin-1 (PEP 263) is read and written back in latin-1."""
    target = tmp_path / "users.py"
    target.write_bytes(b"# -*- coding: latin-1 -*-\n# \xe9t\xe9\n" + OLD.encode())

    _run(str(target), "--write")

    assert target.read_bytes() == b"# -*- coding: latin-1 -*-\n# \xe9t\xe9\n" + NEW.encode()


def test_notes_are_printed_with_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What could not be rewritten is listed as path:line: message, and does not fail an applied run."""
    monkeypatch.chdir(tmp_path)
    Path("dyn.py").write_text('import importlib\n\nimportlib.import_module("fastapi_users.jwt")\n')

    result = _run("dyn.py", "--write")

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        (
            "dyn.py:3: dynamic import importlib.import_module('fastapi_users.jwt'):"
            " change it by hand to 'fastapi_userkit.jwt'"
        ),
        "Changed 0 of 1 files: 0 imports and 0 string references rewritten; 1 left to check by hand; 0 unreadable.",
    ]


def test_unparsable_and_unreadable_files_fail_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that is not Python, or not decodable, is reported and the exit code is 1; others are still written."""
    monkeypatch.chdir(tmp_path)
    Path("broken.py").write_text("import fastapi_users\ndef (:\n")
    Path("binary.py").write_bytes(b"x = '\xff\xfe'\n")
    Path("good.py").write_text(OLD)

    result = _run(".", "--write")

    assert result.exit_code == 1
    assert Path("good.py").read_text() == NEW
    lines = result.stderr.splitlines()
    assert lines[0].startswith("binary.py: cannot read: ")
    assert lines[1].startswith("broken.py: cannot parse (line 2): ")
    assert lines[2].endswith("; 0 left to check by hand; 2 unreadable.")


def test_missing_path_is_a_one_line_error(tmp_path: Path) -> None:
    """A path that does not exist is refused before anything is read."""
    result = _run(str(tmp_path / "nowhere"))

    assert result.exit_code == 1
    assert result.stderr == f"Error: No such file or directory: {tmp_path / 'nowhere'}\n"


def test_without_libcst_the_extra_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without LibCST installed, the command says which extra to install."""
    monkeypatch.setitem(sys.modules, "libcst", None)

    result = _run(str(tmp_path))

    assert result.exit_code == 1
    assert "pip install 'fastapi-userkit[migrate]'" in result.stderr


def test_walk_skips_virtualenvs_and_caches(tmp_path: Path) -> None:
    """Directories are walked for *.py files in order, skipping .venv, venv, any virtualenv, .git and __pycache__."""
    for name in (
        "app/a.py",
        "app/b.txt",
        "app/sub/c.py",
        ".venv/x.py",
        "venv/y.py",
        ".git/z.py",
        "app/__pycache__/d.py",
        "envs/py311/pyvenv.cfg",
        "envs/py311/lib/e.py",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "script").write_text("")

    found = list(iter_python_files([tmp_path, tmp_path / "script"]))

    assert found == [tmp_path / "app/a.py", tmp_path / "app/sub/c.py", tmp_path / "script"]
