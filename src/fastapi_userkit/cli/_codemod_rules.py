"""Where each FastAPI Users module lives in fastapi-userkit: the README's import table as code.

The table ("Migrating from FastAPI Users" in the README, and the design's compatibility table):
``fastapi_users`` and every ``fastapi_users.*`` module keep their path under ``fastapi_userkit``;
``fastapi_users_db_sqlalchemy`` is ``fastapi_userkit.db`` and its ``access_token`` module
``fastapi_userkit.db.access_token``. Two FastAPI Users modules have no namesake here and map to
where their names live: ``fastapi_users_db_sqlalchemy.generics`` (``GUID``, ``TIMESTAMPAware``,
``now_utc``) is re-exported by ``fastapi_userkit.db``, and
``fastapi_users.authentication.strategy.db.adapter`` (``AccessTokenDatabase``) is in
``fastapi_userkit.authentication.strategy.db.models``.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from functools import cache

__all__ = [
    "EXACT_MODULE_RENAMES",
    "MODULE_PATH",
    "PACKAGES",
    "has_name",
    "map_dotted",
    "module_exists",
]

PACKAGES = ("fastapi_users", "fastapi_users_db_sqlalchemy")
"""The top-level packages of FastAPI Users whose imports are rewritten."""

# Longest prefix first: the first rule whose module is the name or a parent of it applies.
_RULES: tuple[tuple[str, str], ...] = (
    ("fastapi_users_db_sqlalchemy.generics", "fastapi_userkit.db"),
    ("fastapi_users_db_sqlalchemy", "fastapi_userkit.db"),
    ("fastapi_users.authentication.strategy.db.adapter", "fastapi_userkit.authentication.strategy.db.models"),
    ("fastapi_users", "fastapi_userkit"),
)

EXACT_MODULE_RENAMES = frozenset(old for old, new in _RULES if old.rpartition(".")[2] != new.rpartition(".")[2])
"""Modules whose last component changes name (``...generics`` -> ``...db``), not only their package."""

MODULE_PATH = re.compile(r"(?:fastapi_users|fastapi_users_db_sqlalchemy)(?:\.\w*)*(?::[\w.]*)?")
"""A string that is a FastAPI Users module path (``pkg.mod.attr`` or ``pkg.mod:attr``), or its start."""


def map_dotted(name: str) -> str | None:
    """The fastapi-userkit path of a dotted FastAPI Users path, or ``None`` if it is not one.

    Matching is by whole components, so ``fastapi_users_extra`` or ``my.fastapi_users`` are
    never touched; the remainder of the path (submodules, attributes) is kept.
    """
    for old, new in _RULES:
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return None


@cache
def module_exists(name: str) -> bool:
    """Whether the installed fastapi-userkit has the module ``name``."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent is not a package, or is missing
        return False


@cache
def has_name(module: str, name: str) -> bool:
    """Whether ``from module import name`` works with the installed fastapi-userkit (``module`` exists)."""
    try:
        imported = importlib.import_module(module)
    except ImportError:  # an optional extra (httpx-oauth, redis) missing where the codemod runs: no verdict
        return True
    if hasattr(imported, name):
        return True
    return module_exists(f"{module}.{name}")
