"""The package's shape (issue 17): no import cycles, and capabilities declared, not probed.

Import cycles are read statically from the source: top-level, function-level and
``if TYPE_CHECKING:`` imports all count, since each is a dependency of the design even when
Python would tolerate it at run time. A package's ``__init__`` re-exporting its own modules is
not a design cycle, so edges between a module and the packages that contain it are left out.
"""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

import fastapi_userkit
from fastapi_userkit import BaseUserManager, UUIDIDMixin
from fastapi_userkit._contracts import (
    AllTokensDestroying,
    ConnectionReleasing,
    ExpiredTokenPurging,
    OAuthAccountCreating,
    OAuthAccountRemoving,
    RefreshTransport,
    RevokeAllStrategy,
    SecurityEventEmitter,
)
from fastapi_userkit.authentication import BearerTransport, CookieTransport
from fastapi_userkit.authentication.strategy import DatabaseStrategy, JWTStrategy, RedisStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from tests.models import AccessToken, OAuthAccount, User

PACKAGE_ROOT = Path(fastapi_userkit.__file__).parent

Graph = dict[str, set[str]]


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Every dotted name an import statement may refer to (a module, or a name inside one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _owning_module(name: str, known: set[str]) -> str | None:
    """The longest known module that ``name`` is, or is inside of."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path) -> Graph:
    """Module -> the package's modules it imports anywhere in its source (``TYPE_CHECKING`` included)."""
    files = {_module_name(root, path): path for path in root.rglob("*.py")}
    known = set(files)
    graph: Graph = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _imported(node, module, is_package):
                target = _owning_module(name, known)
                # A package and its own modules (re-exports, or a module reaching its package).
                if (
                    target is None
                    or target == module
                    or target.startswith(f"{module}.")
                    or module.startswith(f"{target}.")
                ):
                    continue
                edges.add(target)
        graph[module] = edges
    return graph


def import_cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(cycles)


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_the_package_has_no_import_cycle() -> None:
    """No two modules of fastapi_userkit import each other, directly or through others, even for typing."""
    graph = import_graph(PACKAGE_ROOT)

    cycles = import_cycles(graph)

    assert "fastapi_userkit.manager" in graph
    assert cycles == []


def test_the_storage_layer_does_not_import_authentication() -> None:
    """No module of ``fastapi_userkit.db`` imports the authentication package (storage knows nothing of auth)."""
    graph = import_graph(PACKAGE_ROOT)

    reached = {
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.startswith("fastapi_userkit.db")
        for target in targets
        if target.startswith("fastapi_userkit.authentication")
    }

    assert "fastapi_userkit.db.access_token" in graph
    assert reached == set()


def test_a_cycle_through_a_type_checking_import_is_found(tmp_path: Path) -> None:
    """A cycle through an ``if TYPE_CHECKING:`` import and a function-level relative import is reported."""
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "from pkg import b\nA = 1\n",
            "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.c import C\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "def f():\n    from ..a import A\n    return A\nC = 1\n",
        },
    )

    cycles = import_cycles(import_graph(root))

    assert cycles == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_a_package_reexporting_its_modules_is_no_cycle(tmp_path: Path) -> None:
    """``__init__`` importing its children, which import the package's names, is not reported."""
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\nfrom . import b\n",
            "pkg/a.py": "import pkg\nA = 1\n",
            "pkg/b.py": "from pkg.a import A\n",
        },
    )

    assert import_cycles(import_graph(root)) == []


# The optional capabilities of collaborators: each is a declared protocol (fastapi_userkit._contracts).
_CAPABILITIES = (
    "release_connection",
    "create_with_oauth_account",
    "remove_oauth_account",
    "destroy_all_tokens",
    "session_id_of",
    "emit_security_event",
    "delete_by_user",
    "delete_expired",
    "get_login_response_with_refresh",
    "refresh",
)
_PROBE = re.compile(r"""getattr\([^()]*,\s*["'](?P<name>\w+)["']""")


def test_no_capability_is_found_by_getattr() -> None:
    """No module of the package probes a collaborator for a capability with ``getattr(obj, "name", ...)``."""
    probes = [
        f"{path.relative_to(PACKAGE_ROOT)}: getattr(..., {match['name']!r})"
        for path in sorted(PACKAGE_ROOT.rglob("*.py"))
        for match in _PROBE.finditer(path.read_text(encoding="utf-8"))
        if match["name"] in _CAPABILITIES
    ]

    assert probes == []


def test_the_probe_pattern_finds_a_probe() -> None:
    """The pattern the check above relies on matches a nested ``getattr`` probe and its name."""
    match = _PROBE.search('release = getattr(self.user_db, "release_connection", None)')

    assert match is not None
    assert match["name"] == "release_connection"


class _UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = "x" * 32
    verification_token_secret = "x" * 32


@pytest.mark.parametrize("transport", [BearerTransport("login"), CookieTransport()], ids=["bearer", "cookie"])
def test_the_library_transports_carry_refresh_tokens(transport: object) -> None:
    """Both transports implement the declared refresh capability that ``refresh=`` needs."""
    assert isinstance(transport, RefreshTransport)


async def test_the_library_adapters_implement_their_declared_capabilities() -> None:
    """The SQLAlchemy adapters, the strategies and the manager implement the protocols the library checks."""
    async with AsyncSession() as session:
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = SQLAlchemyUserDatabase(session, User, OAuthAccount)
        token_db = SQLAlchemyAccessTokenDatabase(session, AccessToken)
        strategies: list[object] = [
            JWTStrategy("x" * 32, 3600),
            DatabaseStrategy(token_db, 3600),
            RedisStrategy(Redis(), 3600),
        ]

        assert isinstance(user_db, ConnectionReleasing)
        assert isinstance(user_db, OAuthAccountCreating)
        assert isinstance(user_db, OAuthAccountRemoving)
        assert isinstance(token_db, ExpiredTokenPurging)
        assert isinstance(_UserManager(user_db), SecurityEventEmitter)
        assert all(isinstance(strategy, RevokeAllStrategy) for strategy in strategies)
        assert all(isinstance(strategy, AllTokensDestroying) for strategy in strategies)
