"""``userkit migrate-from-fastapi-users PATH...``: rewrite a FastAPI Users app's imports (issue 21).

A dry run is the default: the change is printed as a unified diff on standard output (so
``userkit migrate-from-fastapi-users app > migrate.patch`` is a patch), and the lines left for a
human and the summary go to standard error. ``--write`` applies it. Exit code: 0 when nothing is
left to do or the change was applied, 1 when a dry run found something to change or a file
could not be read or parsed.
"""

from __future__ import annotations

import difflib
import io
import os
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fastapi_userkit.cli._errors import EXIT_ERROR, CLIError, fail

if TYPE_CHECKING:
    from fastapi_userkit.cli._codemod import Rewrite

__all__ = ["FileChange", "iter_python_files", "migrate_command", "migrate_file"]

_SKIPPED_DIRECTORIES = frozenset({".venv", "venv", ".git", "__pycache__", ".tox", ".nox", "node_modules"})


@dataclass(frozen=True)
class FileChange:
    """The codemod's outcome for one file."""

    path: Path
    original: str
    rewrite: Rewrite | None
    """``None`` when the file could not be read or parsed (see ``error``)."""
    encoding: str = "utf-8"
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the file's text changes."""
        return self.rewrite is not None and self.rewrite.code != self.original

    def diff(self) -> str:
        """The change as a unified diff (``a/PATH`` to ``b/PATH``, as git prints it)."""
        after = self.rewrite.code if self.rewrite is not None else self.original
        # git's a/ b/ prefixes only for a relative path, so that `git apply` or `patch -p1` takes it.
        name = self.path.as_posix()
        before_name, after_name = (name, name) if self.path.is_absolute() else (f"a/{name}", f"b/{name}")
        lines = difflib.unified_diff(
            self.original.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
        )
        return "".join(lines)


def iter_python_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Each path given, and the ``*.py`` files under each directory (virtualenvs, caches and VCS folders skipped)."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, directories, files in os.walk(path):
            # Any virtualenv, whatever its name (PEP 405: it holds a pyvenv.cfg), is installed code.
            directories[:] = sorted(
                name
                for name in directories
                if name not in _SKIPPED_DIRECTORIES and not (Path(root) / name / "pyvenv.cfg").is_file()
            )
            yield from (Path(root) / name for name in sorted(files) if name.endswith(".py"))


def migrate_file(path: Path) -> FileChange:
    """Run the codemod on one file, without writing it."""
    from libcst import ParserSyntaxError

    from fastapi_userkit.cli._codemod import rewrite_source

    try:
        data = path.read_bytes()
        # PEP 263: honour the file's encoding declaration, and write it back in the same encoding.
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return FileChange(path, "", None, error=f"cannot read: {exc}")
    try:
        return FileChange(path, text, rewrite_source(text), encoding=encoding)
    except ParserSyntaxError as exc:
        return FileChange(path, text, None, error=f"cannot parse (line {exc.raw_line}): {exc.message}")


def _echo_notes(change: FileChange) -> None:
    if change.error is not None:
        typer.secho(f"{change.path}: {change.error}", err=True, fg=typer.colors.RED)
    for line, message in change.rewrite.notes if change.rewrite is not None else ():
        typer.secho(f"{change.path}:{line}: {message}", err=True, fg=typer.colors.YELLOW)


def migrate_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or directories (their *.py files) to migrate.", show_default=False)
    ],
    write: Annotated[bool, typer.Option("--write", help="Apply the change instead of printing it as a diff.")] = False,
) -> None:
    """Rewrite FastAPI Users imports to fastapi-userkit ones (a dry run printing a diff unless --write)."""
    try:
        import libcst  # noqa: F401 - only to say which extra is missing
    except ImportError:
        fail(CLIError("migrate-from-fastapi-users needs LibCST: pip install 'fastapi-userkit[migrate]'"))
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        fail(CLIError(f"No such file or directory: {', '.join(missing)}"))
    changes = [migrate_file(path) for path in iter_python_files(paths)]
    changed = [change for change in changes if change.changed]
    for change in changed:
        if write:
            assert change.rewrite is not None  # noqa: S101 - `changed` implies a rewrite
            change.path.write_bytes(change.rewrite.code.encode(change.encoding))
        else:
            typer.echo(change.diff(), nl=False)
    for change in changes:
        _echo_notes(change)
    imports = sum(change.rewrite.imports for change in changed if change.rewrite is not None)
    strings = sum(change.rewrite.strings for change in changed if change.rewrite is not None)
    notes = sum(len(change.rewrite.notes) for change in changes if change.rewrite is not None)
    errors = sum(change.error is not None for change in changes)
    verb = "Changed" if write else "Would change"
    typer.echo(
        f"{verb} {len(changed)} of {len(changes)} files: {imports} imports and {strings} string references"
        f" rewritten; {notes} left to check by hand; {errors} unreadable.",
        err=True,
    )
    if errors or (changed and not write):
        raise typer.Exit(EXIT_ERROR)
