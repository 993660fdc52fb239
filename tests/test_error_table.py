"""Library errors reach clients through the one error table (``router/common.py``), not by hand (issue 17)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from fastapi import HTTPException

import fastapi_userkit
from fastapi_userkit import exceptions
from fastapi_userkit import router as router_package
from fastapi_userkit.error_codes import ErrorCode
from fastapi_userkit.router import common
from fastapi_userkit.router.common import ERRORS, translate
from fastapi_userkit.security import CSRFProtection, SecuritySettings
from fastapi_userkit.security.settings import CSRFSettings, RateLimitSettings

PACKAGE = Path(fastapi_userkit.__file__).parent
TABLE = PACKAGE / "router" / "common.py"

# Every hand-built answer left in the package (none: keep it that way).
KNOWN: set[tuple[str, str]] = set()

# Codes the table does not answer, each with the place that does and why.
ANSWERED_ELSEWHERE: dict[ErrorCode, str] = {}

_CONSTANT = re.compile(r"[A-Z][A-Z0-9_]+")


def _detail_argument(call: ast.Call) -> ast.expr | None:
    if len(call.args) >= 2:  # HTTPException(status_code, detail, ...)
        return call.args[1]
    return next((keyword.value for keyword in call.keywords if keyword.arg == "detail"), None)


def _is_hand_built(detail: ast.expr) -> bool:
    """Whether a ``detail`` names an error code: ``ErrorCode.X``, a code string, or a code constant.

    Re-raising another answer (``exc.detail``) keeps the table's detail, so it passes.
    """
    if isinstance(detail, ast.Attribute) and detail.attr == "detail":
        return False
    if "ErrorCode." in ast.unparse(detail):
        return True
    if isinstance(detail, ast.Constant):
        return isinstance(detail.value, str) and bool(_CONSTANT.fullmatch(detail.value))
    if isinstance(detail, ast.Name):
        # An upper-case name is a code constant (``CSRF_TOKEN_INVALID``); a lower-case one a code
        # passed through a helper (``_bad_request(detail)``). Either way, not the table's answer.
        return True
    return isinstance(detail, ast.Attribute) and bool(_CONSTANT.fullmatch(detail.attr))


def hand_built_answers(path: Path, root: Path = PACKAGE) -> set[tuple[str, str]]:
    """``(file, enclosing function)`` of every ``HTTPException(...)`` whose detail names an error code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, str]] = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "HTTPException"):
                continue
            detail = _detail_argument(node)
            if detail is not None and _is_hand_built(detail):
                found.add((path.relative_to(root).as_posix(), function.name))
    return found


def test_no_module_builds_an_http_exception_for_a_library_error() -> None:
    """No module of the package but the table raises ``HTTPException`` with an error code as detail."""
    found: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != TABLE:
            found |= hand_built_answers(path)

    assert found == KNOWN, f"answer these through router/common.py's table: {sorted(found - KNOWN)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("raise HTTPException(400, detail=ErrorCode.LOGIN_BAD_CREDENTIALS)", True),
        ('raise HTTPException(403, "CSRF_TOKEN_INVALID")', True),
        ("raise HTTPException(status_code=403, detail=CSRF_TOKEN_INVALID)", True),
        ("raise HTTPException(status_code=400, detail=messages.CURRENT_PASSWORD_WRONG)", True),
        ("raise HTTPException(status_code=400, detail=detail)", True),
        ("raise HTTPException(404)", False),
        ("raise HTTPException(status_code=status.HTTP_404_NOT_FOUND)", False),
        ("raise HTTPException(exc.status_code, exc.detail, headers)", False),
        ('raise HTTPException(400, detail="Not a code")', False),
    ],
)
def test_the_scan_finds_a_hand_built_answer(tmp_path: Path, source: str, expected: bool) -> None:
    """The scan reports a detail that is a code, a code constant or a passed-in code (so the test above can fail)."""
    module = tmp_path / "route.py"
    module.write_text(f"def route():\n    {source}\n", encoding="utf-8")

    assert hand_built_answers(module, tmp_path) == ({("route.py", "route")} if expected else set())


def _codes_in_table() -> set[str]:
    return {answer.code.value for flow in ERRORS.values() for answer in flow.values() if answer.code is not None}


def test_every_error_code_is_answered_by_the_table() -> None:
    """Every ``ErrorCode`` member is the detail of some table entry, or listed with the reason it is not."""
    missing = {code for code in ErrorCode if code.value not in _codes_in_table()} - set(ANSWERED_ELSEWHERE)

    assert missing == set()


def test_error_code_is_one_class_on_every_path() -> None:
    """``ErrorCode`` lives in the leaf module and is the same class on its router path (FastAPI Users' import)."""
    from fastapi_userkit.router import ErrorCode as PackageErrorCode

    assert common.ErrorCode is ErrorCode
    assert PackageErrorCode is ErrorCode


def test_error_codes_module_is_a_leaf() -> None:
    """``fastapi_userkit.error_codes`` imports nothing from the package, so any layer may use it."""
    tree = ast.parse((PACKAGE / "error_codes.py").read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)] + [
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    ]

    assert [name for name in imported if name.startswith("fastapi_userkit")] == []


@pytest.mark.parametrize(
    ("error", "status_code", "detail", "headers"),
    [
        (exceptions.RateLimited(29.2), 429, "TOO_MANY_REQUESTS", {"Retry-After": "30"}),
        (exceptions.RateLimited(0.0), 429, "TOO_MANY_REQUESTS", {"Retry-After": "1"}),
        (exceptions.RateLimitStorageError(), 503, "Service Unavailable", None),
        (exceptions.CSRFCrossSiteRequest(), 403, "CSRF_CROSS_SITE_REQUEST", None),
        (exceptions.CSRFTokenInvalid(), 403, "CSRF_TOKEN_INVALID", None),
    ],
)
def test_guard_and_csrf_refusals_are_answered_in_every_flow(
    error: exceptions.FastAPIUsersException, status_code: int, detail: str, headers: dict[str, str] | None
) -> None:
    """Rate-limit and CSRF refusals get their answer (status, detail, headers) inside any translated block."""
    with pytest.raises(HTTPException) as caught, translate("register"):
        raise error

    assert (caught.value.status_code, caught.value.detail, caught.value.headers) == (status_code, detail, headers)


@pytest.mark.parametrize(
    ("error", "status_code", "detail"),
    [
        (exceptions.OAuthProviderRefused("access_denied"), 400, "access_denied"),
        (exceptions.OAuthProviderRefused(), 400, "Bad Request"),
        (exceptions.OAuthStateMalformed(), 400, "ACCESS_TOKEN_DECODE_ERROR"),
        (exceptions.OAuthStateExpired(), 400, "ACCESS_TOKEN_ALREADY_EXPIRED"),
        (exceptions.OAuthStateWrongUser(), 400, "Bad Request"),
        (exceptions.OAuthStateInvalid(), 400, "OAUTH_INVALID_STATE"),
        (exceptions.OAuthCodeRejected(), 400, "OAUTH_INVALID_CODE"),
        (exceptions.OAuthProviderError(), 502, "OAUTH_PROVIDER_ERROR"),
    ],
)
def test_oauth_callback_errors_answer_as_before(
    error: exceptions.FastAPIUsersException, status_code: int, detail: str
) -> None:
    """The OAuth callback's refusals answer FastAPI Users' status and detail, the provider's ``error`` echoed."""
    with pytest.raises(HTTPException) as caught, translate("oauth-callback"):
        raise error

    assert (caught.value.status_code, caught.value.detail) == (status_code, detail)


@pytest.mark.parametrize(
    ("settings", "flows"),
    [
        (CSRFSettings(), ("csrf-origin",)),
        (CSRFSettings(mode="token", token_secret="s" * 32), ("csrf-origin", "csrf-token")),
    ],
)
def test_csrf_check_lists_the_flows_it_can_raise(settings: CSRFSettings, flows: tuple[str, ...]) -> None:
    """A request check answers a cross-site request in every mode, and a bad token in token mode only."""
    assert CSRFProtection(settings).request_error_flows() == flows


@pytest.mark.parametrize(
    ("rate_limit", "flows"),
    [
        (None, ()),
        (RateLimitSettings(), ("rate-limit",)),
        (RateLimitSettings(fail_open=False), ("rate-limit", "rate-limit-unavailable")),
    ],
)
def test_guard_lists_the_flows_it_can_raise(rate_limit: RateLimitSettings | None, flows: tuple[str, ...]) -> None:
    """A guard answers 429 when limits are on, and 503 too when a failing store refuses requests."""
    guard = SecuritySettings(rate_limit=rate_limit).flow_guard("login")

    assert guard.error_flows() == flows


def test_router_package_refuses_unknown_names() -> None:
    """The router package's lazy exports answer an unknown name with ``AttributeError``, as a module does."""
    with pytest.raises(AttributeError, match="no_such_router"):
        _ = router_package.no_such_router
