"""Every public name of FastAPI Users 15 resolves after the codemod (the list: fastapi_users_15_public_names.txt)."""

from __future__ import annotations

from pathlib import Path

from fastapi_userkit.cli._codemod import rewrite_source

NAMES = Path(__file__).parent / "fastapi_users_15_public_names.txt"

# Internal details of FastAPI Users with no counterpart: the authenticator's two regexes for
# backend names, and the reset router's OpenAPI dictionary. The codemod reports their imports.
KNOWN_GAPS = {
    ("fastapi_users.authentication.authenticator", "INVALID_CHARS_PATTERN"),
    ("fastapi_users.authentication.authenticator", "INVALID_LEADING_CHARS_PATTERN"),
    ("fastapi_users.router.reset", "RESET_PASSWORD_RESPONSES"),
}


def _names() -> list[tuple[str, str]]:
    lines = [line.split() for line in NAMES.read_text().splitlines() if line and not line.startswith("#")]
    return [(module, name) for module, name in lines]


def test_every_module_has_a_counterpart() -> None:
    """``import M`` of each FastAPI Users module is rewritten to a module that exists, with nothing to report."""
    modules = sorted({module for module, _ in _names()})

    results = [rewrite_source(f"import {module}\n") for module in modules]

    assert len(modules) == 38
    assert [(module, result.notes) for module, result in zip(modules, results, strict=True) if result.notes] == []
    assert all(result.imports == 1 for result in results)


def test_every_public_name_resolves() -> None:
    """``from M import name`` resolves for each public name, the three internal gaps aside (which are reported)."""
    names = _names()

    reported = {(module, name) for module, name in names if rewrite_source(f"from {module} import {name}\n").notes}

    assert len(names) == 135
    assert reported == KNOWN_GAPS
