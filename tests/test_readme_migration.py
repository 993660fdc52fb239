"""The README's migration command turns FastAPI Users' import lines into importable fastapi-userkit ones."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fastapi_userkit import FastAPIUsers
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.password import PasswordHelper
from tests.readme_examples import README

# Every row of the README's import table, the module that was renamed twice by the old command
# (``fastapi_users.fastapi_users``), a parenthesised list, an indented import and a variable
# named like the package, which must keep its name.
FASTAPI_USERS_CODE = """\
import uuid

from fastapi_users import BaseUserManager, FastAPIUsers, InvalidPasswordException, UUIDIDMixin, models, schemas
from fastapi_users.fastapi_users import FastAPIUsers as FastAPIUsersClass
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.authentication.strategy import DatabaseStrategy
from fastapi_users.authentication.strategy.db import AccessTokenDatabase, AccessTokenProtocol
from fastapi_users.authentication.transport import CookieTransport
from fastapi_users.db import BaseUserDatabase, SQLAlchemyUserDatabase
from fastapi_users_db_sqlalchemy import (
    GUID,
    SQLAlchemyBaseUserTableUUID,
)
from fastapi_users_db_sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_users.exceptions import UserNotExists
from fastapi_users.jwt import generate_jwt
from fastapi_users.manager import UserManagerDependency
from fastapi_users.models import UserProtocol
from fastapi_users.password import PasswordHelper
from fastapi_users.router import get_auth_router
from fastapi_users.router.common import ErrorCode
from fastapi_users.router.oauth import generate_state_token
from fastapi_users.schemas import BaseUser


def late_import():
    from fastapi_users.password import PasswordHelper as Late

    return Late


fastapi_users = FastAPIUsersClass
"""


def readme_migration_command() -> list[str]:
    """The ``sed`` command of the README's "Migrating from FastAPI Users" section, as argv."""
    section = README.read_text().split("## Migrating from FastAPI Users", 1)[1]
    match = re.search(r"^\$ (sed .+)$", section, re.MULTILINE)
    assert match is not None, "the migration section shows no sed command"
    return shlex.split(match[1])


def import_file(path: Path) -> Any:
    """Import ``path`` as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"migrated_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(shutil.which("sed") is None, reason="needs sed")
def test_readme_sed_command_migrates_every_import_line(tmp_path: Path) -> None:
    """The README's sed line rewrites each import of its table to a module that exists, and nothing else."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "users.py").write_text(FASTAPI_USERS_CODE)
    *command, pattern = readme_migration_command()
    files = [str(path) for path in sorted(tmp_path.glob(pattern))]

    subprocess.run([*command, *files], cwd=tmp_path, check=True)  # noqa: S603 - the README's own command
    migrated = (app / "users.py").read_text()
    module = import_file(app / "users.py")

    assert "fastapi_users_db_sqlalchemy" not in migrated
    assert "from fastapi_userkit.fastapi_users import FastAPIUsers as FastAPIUsersClass" in migrated
    assert "fastapi_users = FastAPIUsersClass" in migrated
    assert module.fastapi_users is FastAPIUsers
    assert module.SQLAlchemyAccessTokenDatabase is SQLAlchemyAccessTokenDatabase
    assert module.late_import() is PasswordHelper
