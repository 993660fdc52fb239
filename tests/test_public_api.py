"""The public surface: every import path of the migration table, curated ``__all__`` lists, the wheel."""

from __future__ import annotations

import importlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import fastapi_userkit

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "fastapi_userkit"

# DESIGN.md, "Import paths we must provide": fastapi_users* -> fastapi_userkit*.
MIGRATION_PATHS = [
    "fastapi_userkit",
    "fastapi_userkit.authentication",
    "fastapi_userkit.authentication.strategy",
    "fastapi_userkit.authentication.strategy.db",
    "fastapi_userkit.authentication.transport",
    "fastapi_userkit.db",
    "fastapi_userkit.db.sqlalchemy",
    "fastapi_userkit.db.access_token",
    "fastapi_userkit.schemas",
    "fastapi_userkit.models",
    "fastapi_userkit.exceptions",
    "fastapi_userkit.password",
    "fastapi_userkit.jwt",
    "fastapi_userkit.manager",
    "fastapi_userkit.router",
    "fastapi_userkit.router.common",
    "fastapi_userkit.router.oauth",
]

# Names applications import from FastAPI Users (contract section 1), by our module path.
COMPAT_NAMES = {
    "fastapi_userkit": {
        "models",
        "schemas",
        "FastAPIUsers",
        "BaseUserManager",
        "InvalidPasswordException",
        "InvalidID",
        "UUIDIDMixin",
        "IntegerIDMixin",
    },
    "fastapi_userkit.authentication": {
        "AuthenticationBackend",
        "Authenticator",
        "BearerTransport",
        "CookieTransport",
        "JWTStrategy",
        "DatabaseStrategy",
        "RedisStrategy",
        "Strategy",
        "Transport",
    },
    "fastapi_userkit.authentication.strategy.db": {"AccessTokenDatabase", "AccessTokenProtocol", "DatabaseStrategy"},
    "fastapi_userkit.db": {
        "BaseUserDatabase",
        "SQLAlchemyBaseOAuthAccountTable",
        "SQLAlchemyBaseOAuthAccountTableUUID",
        "SQLAlchemyBaseUserTable",
        "SQLAlchemyBaseUserTableUUID",
        "SQLAlchemyUserDatabase",
        "GUID",
        "UUID_ID",
    },
    "fastapi_userkit.db.access_token": {
        "SQLAlchemyAccessTokenDatabase",
        "SQLAlchemyBaseAccessTokenTable",
        "SQLAlchemyBaseAccessTokenTableUUID",
    },
    "fastapi_userkit.schemas": {"BaseUser", "BaseUserCreate", "BaseUserUpdate", "BaseOAuthAccount"},
    "fastapi_userkit.password": {"PasswordHelper", "PasswordHelperProtocol"},
    "fastapi_userkit.jwt": {"SecretType", "JWT_ALGORITHM", "generate_jwt", "decode_jwt"},
    "fastapi_userkit.manager": {"BaseUserManager", "UUIDIDMixin", "IntegerIDMixin", "UserManagerDependency"},
    "fastapi_userkit.router.common": {"ErrorCode", "ErrorModel"},
}


def isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then CamelCase classes, then everything else."""
    if len(name) > 1 and name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


@pytest.mark.parametrize("path", MIGRATION_PATHS)
def test_import_path_resolves_with_a_sorted_and_valid_all(path: str) -> None:
    """The module imports, has an ``__all__`` in isort order, and every name in it exists."""
    module = importlib.import_module(path)
    exported = list(module.__all__)

    assert exported == sorted(exported, key=isort_key)
    assert len(exported) == len(set(exported))
    assert [name for name in exported if not hasattr(module, name)] == []


@pytest.mark.parametrize(("path", "names"), sorted(COMPAT_NAMES.items()))
def test_fastapi_users_names_are_exported(path: str, names: set[str]) -> None:
    """The names FastAPI Users applications import are in the matching ``__all__``."""
    module = importlib.import_module(path)

    assert names <= set(module.__all__)


def test_the_same_objects_are_reached_through_every_path() -> None:
    """Re-exports are the same objects, so isinstance checks and subclassing agree across paths."""
    from fastapi_userkit import BaseUserManager as TopManager
    from fastapi_userkit.db import SQLAlchemyUserDatabase as DbAdapter
    from fastapi_userkit.db.sqlalchemy import SQLAlchemyUserDatabase as SqlAlchemyAdapter
    from fastapi_userkit.manager import BaseUserManager

    assert TopManager is BaseUserManager
    assert DbAdapter is SqlAlchemyAdapter


def test_version_is_a_string() -> None:
    """The package has a __version__ (hatch reads it for the wheel)."""
    assert isinstance(fastapi_userkit.__version__, str)
    assert fastapi_userkit.__version__.count(".") >= 2


def source_files() -> set[str]:
    """Every file of the package source, as wheel paths."""
    return {
        path.relative_to(SOURCE.parent).as_posix()
        for path in SOURCE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.mark.slow
def test_wheel_ships_every_file_and_imports_on_its_own(tmp_path: Path) -> None:
    """The built wheel holds py.typed and every module and data file, and imports from itself alone."""
    subprocess.run(  # noqa: S603 - a fixed command line
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--skip-dependency-check",
            "--outdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("fastapi_userkit-*.whl")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(unpacked)
    packages = sorted(
        path.relative_to(SOURCE.parent).as_posix()
        for path in SOURCE.rglob("__init__.py")
        if "__pycache__" not in path.parts
    )

    assert "fastapi_userkit/py.typed" in names
    assert source_files() <= names
    assert packages
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    assert "Name: fastapi-userkit" in (unpacked / metadata).read_text()

    script = (
        "import importlib, pkgutil, sys, fastapi_userkit as p\n"
        "assert p.__file__.startswith(sys.argv[1]), p.__file__\n"
        "for m in pkgutil.walk_packages(p.__path__, 'fastapi_userkit.'):\n"
        "    if not m.name.endswith('.__main__'):  # running it would start the CLI\n"
        "        importlib.import_module(m.name)\n"
        "print(len(sys.modules))\n"
    )
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", script, str(unpacked)],
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
