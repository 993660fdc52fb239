"""Extract the runnable examples of README.md, of the site's pages and of the sections they include.

An example is a ```python block right after ``<!-- example: NAME -->``; names are unique across the
README, the pages (``docs/**/*.md``) and the sections pages include (``docs_snippets/*.md``), so a
feature's test runs its documented example wherever the text lives.
"""

from __future__ import annotations

import re
import sys
import types
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
_EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\s*```python\n(?P<code>.*?)```", re.DOTALL)


def _examples_of(path: Path) -> dict[str, str]:
    """The examples of one markdown file, by name."""
    return {match["name"]: match["code"] for match in _EXAMPLE.finditer(path.read_text())}


def documentation() -> list[Path]:
    """The README, the sections pages include and every page of the site, in a stable order."""
    snippets = sorted((ROOT / "docs_snippets").glob("*.md"))
    return [README, *snippets, *sorted(path for path in DOCS.rglob("*.md") if "_hooks" not in path.parts)]


def examples(path: Path | None = None) -> dict[str, str]:
    """The examples of ``path``, or of every file of :func:`documentation` when no path is given, by name.

    Raises:
        ValueError: two files (or one file twice) use the same example name.
    """
    if path is not None:
        return _examples_of(path)
    found: dict[str, str] = {}
    for source in documentation():
        for name, code in _examples_of(source).items():
            if name in found:
                raise ValueError(f"example name {name!r} is used twice (again in {source.relative_to(ROOT)})")
            found[name] = code
    return found


def run_examples(*names: str) -> dict[str, Any]:
    """Execute examples in order in one fresh module (later ones build on earlier ones); return its namespace.

    The module is registered in ``sys.modules`` because pydantic resolves generic schemas there.
    """
    found = examples()
    module = types.ModuleType(f"readme_example_{uuid.uuid4().hex}")
    sys.modules[module.__name__] = module
    for name in names:
        exec(compile(found[name], f"docs:{name}", "exec"), module.__dict__)  # noqa: S102 - our own README
    return module.__dict__
