"""The benchmark's application, and the import search-and-replace that makes its fastapi-userkit twin.

``fastapi_users_app.py`` is FastAPI Users' documented SQLAlchemy example. The fastapi-userkit app
is that text with the import lines rewritten as the migration guide says, and nothing else;
:func:`userkit_source` refuses to produce anything else, so the two servers run provably the
same application code.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

__all__ = ["FASTAPI_USERS_APP", "import_diff", "userkit_source", "write_apps"]

FASTAPI_USERS_APP = Path(__file__).with_name("fastapi_users_app.py")

# Order matters: the adapter package name starts with the core package name.
_RENAMES = (
    (re.compile(r"\bfastapi_users_db_sqlalchemy\b"), "fastapi_userkit.db"),
    (re.compile(r"\bfastapi_users\b"), "fastapi_userkit"),
)
_IMPORT_LINE = re.compile(r"^(from|import)\s")


def userkit_source(text: str) -> str:
    """Rewrite the import lines of ``text`` from FastAPI Users to fastapi-userkit; leave every other line.

    Raises:
        ValueError: No import line changed (the text is not a FastAPI Users app).
    """
    lines = []
    changed = 0
    for line in text.splitlines(keepends=True):
        new = line
        if _IMPORT_LINE.match(line):
            for pattern, replacement in _RENAMES:
                new = pattern.sub(replacement, new)
        changed += new != line
        lines.append(new)
    if not changed:
        raise ValueError("no FastAPI Users import to rewrite")
    return "".join(lines)


def import_diff(text: str) -> list[str]:
    """The unified diff between the FastAPI Users app and its fastapi-userkit twin."""
    return list(
        difflib.unified_diff(
            text.splitlines(), userkit_source(text).splitlines(), "fastapi_users_app.py", "userkit_app.py", lineterm=""
        )
    )


def write_apps(directory: Path) -> dict[str, str]:
    """Write both apps into ``directory``; return the module name of each library's app."""
    text = FASTAPI_USERS_APP.read_text(encoding="utf-8")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fastapi_users_app.py").write_text(text, encoding="utf-8")
    (directory / "userkit_app.py").write_text(userkit_source(text), encoding="utf-8")
    (directory / "apps.diff").write_text("\n".join(import_diff(text)) + "\n", encoding="utf-8")
    return {"fastapi-users": "fastapi_users_app", "fastapi-userkit": "userkit_app"}
