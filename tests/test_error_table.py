"""Routes answer library errors through the one error table (``router/common.py``), not by hand (issue 17)."""

from __future__ import annotations

import ast
from pathlib import Path

import fastapi_userkit

PACKAGE = Path(fastapi_userkit.__file__).parent

# Built by hand still: the OAuth provider's failure (502 OAUTH_PROVIDER_ERROR) is answered from
# inside the provider exchange in ``_oauth_flow``; moving it into the table is left to issue 17.
KNOWN = {("router/_oauth_flow.py", "_provider_failure")}


def _error_code_exceptions(path: Path, root: Path = PACKAGE) -> set[tuple[str, str]]:
    """``(file, enclosing function)`` of every ``HTTPException(...)`` whose arguments name an ``ErrorCode``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, str]] = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "HTTPException"):
                continue
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            if any("ErrorCode." in ast.unparse(argument) for argument in arguments):
                found.add((path.relative_to(root).as_posix(), function.name))
    return found


def test_no_route_builds_an_http_exception_for_a_library_error() -> None:
    """No module of the routers or pages raises ``HTTPException`` with an ``ErrorCode`` outside the table."""
    found: set[tuple[str, str]] = set()
    for folder in ("router", "pages"):
        for path in sorted((PACKAGE / folder).glob("*.py")):
            if path.name != "common.py":
                found |= _error_code_exceptions(path)

    assert found <= KNOWN, f"build these answers through router/common.py's table: {sorted(found - KNOWN)}"


def test_the_scan_finds_a_hand_built_answer(tmp_path: Path) -> None:
    """The scan reports an ``HTTPException`` built with an ``ErrorCode`` (so the test above can fail)."""
    module = tmp_path / "route.py"
    module.write_text(
        "def route():\n    raise HTTPException(400, detail=ErrorCode.LOGIN_BAD_CREDENTIALS)\n"
        "def fine():\n    raise HTTPException(404)\n",
        encoding="utf-8",
    )

    assert _error_code_exceptions(module, tmp_path) == {("route.py", "route")}
