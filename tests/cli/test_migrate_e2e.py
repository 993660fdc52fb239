"""End to end: a FastAPI Users 15 app, migrated by ``userkit migrate-from-fastapi-users --write``, runs.

The app (``tests/cli/fastapi_users_sample/``, see its README) is the documentation's SQLAlchemy +
OAuth example plus a database-token backend in its own module and the app's own tests, which
use ``pytest_plugins`` and ``mock.patch``/``monkeypatch.setattr`` strings. After the codemod, no
FastAPI Users import is left, the app's own test suite passes, and the app serves register,
login and ``/users/me`` on each database.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from fastapi_userkit.cli.app import app as cli_app
from tests.conftest import EngineFactory, reset_schema
from tests.models import Base as ModelsBase

SAMPLE = Path(__file__).parent / "fastapi_users_sample"
PASSWORD = "a long passphrase nobody guesses 0451"
_FASTAPI_USERS_IMPORT = re.compile(r"^\s*(?:import|from)\s+fastapi_users(?:_db_sqlalchemy)?\b", re.MULTILINE)

# The documentation's SECRET = "SECRET" is below RFC 7518's 32 bytes for HS256: PyJWT warns, the app
# works (see tests/compat/test_fastapi_users_app.py).
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _copy_sample(target: Path) -> None:
    for source in SAMPLE.rglob("*.sample"):
        destination = target / source.relative_to(SAMPLE).with_suffix("")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    """A copy of the sample app after ``userkit migrate-from-fastapi-users . --write``."""
    _copy_sample(tmp_path)
    result = CliRunner().invoke(cli_app, ["migrate-from-fastapi-users", str(tmp_path), "--write"])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Changed 5 of 10 files: 10 imports and 2 string references rewritten; 0 left to check by hand; 0 unreadable.\n"
    )
    return tmp_path


def test_no_fastapi_users_import_is_left(migrated: Path) -> None:
    """Every module of the migrated app imports fastapi_userkit, and none imports FastAPI Users."""
    sources = {path.relative_to(migrated).as_posix(): path.read_text() for path in migrated.rglob("*.py")}

    assert [name for name, code in sources.items() if _FASTAPI_USERS_IMPORT.search(code)] == []
    assert '@mock.patch("fastapi_userkit.password.PasswordHelper.verify_and_update"' in sources["tests/test_users.py"]
    assert "fastapi_userkit.authentication.AuthenticationBackend(" in sources["app/tokens.py"]


def test_the_apps_own_test_suite_passes(migrated: Path) -> None:
    """The migrated app's own pytest suite passes, in a fresh interpreter."""
    # The outer run's coverage hooks would follow the child into this folder; the child is the app's run.
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("COV_", "PYTEST_"))}

    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:cov", "-p", "no:xdist"],
        cwd=migrated,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert re.search(r"\b5 passed\b", completed.stdout), completed.stdout


@pytest.fixture
def sample_modules(migrated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The migrated ``app.app`` and ``app.db`` modules, imported from the copy (and forgotten afterwards)."""
    import importlib

    monkeypatch.syspath_prepend(str(migrated))
    monkeypatch.chdir(migrated)
    try:
        yield {name: importlib.import_module(f"app.{name}") for name in ("app", "db")}
    finally:
        for name in [name for name in sys.modules if name == "app" or name.startswith("app.")]:
            del sys.modules[name]


async def test_migrated_app_serves_users(
    sample_modules: dict[str, Any], any_backend: str, engine_for: EngineFactory
) -> None:
    """The migrated app registers, logs in (JWT and database tokens) and serves /users/me on each database."""
    application, database = sample_modules["app"].app, sample_modules["db"]
    engine = await engine_for(any_backend)
    async with engine.begin() as connection:
        # Server databases are shared by the run: the test models' tables point at "user" too.
        await connection.run_sync(ModelsBase.metadata.drop_all)
        if "userkit_rate_limit" in await connection.run_sync(lambda sync: inspect(sync).get_table_names()):
            await connection.execute(text("DELETE FROM userkit_rate_limit"))
    await reset_schema(engine, database.Base.metadata)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)

    async def test_session() -> AsyncGenerator[AsyncSession, None]:
        async with session_maker() as session:
            yield session

    application.dependency_overrides[database.get_async_session] = test_session
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            registered = await client.post("/auth/register", json={"email": "arthur@camelot.bt", "password": PASSWORD})
            answers = []
            for backend in ("jwt", "database"):
                login = await client.post(
                    f"/auth/{backend}/login", data={"username": "arthur@camelot.bt", "password": PASSWORD}
                )
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                me = await client.get("/users/me", headers=headers)
                answers.append((login.status_code, me.status_code, me.json()["email"]))
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(database.Base.metadata.drop_all)

    assert registered.status_code == 201, registered.text
    assert answers == [(200, 200, "arthur@camelot.bt"), (200, 200, "arthur@camelot.bt")]
