"""The demo app runs end to end under uvicorn, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import inspect, text

from tests.conftest import database_url_for, make_engine, reset_schema
from tests.models import Base

REPO_ROOT = Path(__file__).resolve().parent.parent
RATE_LIMIT_TABLE = "userkit_rate_limit"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def prepare_shared_database(url: str) -> None:
    """Give the demo a clean slate in the run's shared database.

    The ``user`` table is recreated in the UUID shape the demo declares (an integer-id test may
    have left its own), and rate-limit counters left by earlier tests (all from 127.0.0.1) are
    cleared.
    """
    engine = make_engine(url)
    try:
        await reset_schema(engine, Base.metadata)
        async with engine.begin() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            if RATE_LIMIT_TABLE in names:
                await connection.execute(text(f"DELETE FROM {RATE_LIMIT_TABLE}"))  # noqa: S608 - a constant name
    finally:
        await engine.dispose()


@asynccontextmanager
async def running_demo(database_url: str, log_path: Path) -> AsyncIterator[str]:
    """Start ``uvicorn demo.app:app`` on a free port and yield its base URL once it answers."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603, ASYNC220 - a fixed command line; the test waits on it below
            [sys.executable, "-m", "uvicorn", "demo.app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base_url) as client:
                for _ in range(150):
                    if process.poll() is not None:
                        break
                    try:
                        await client.get("/openapi.json")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            assert process.poll() is None, await anyio.Path(log_path).read_text()
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - uvicorn ignoring SIGTERM
                process.kill()
                process.wait()


async def register_login_me(base_url: str, log_path: Path) -> None:
    """Register a user, log in, read /users/me and the demo's protected route."""
    email = f"demo-{uuid.uuid4().hex[:8]}@example.com"
    password = f"demo passphrase {uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        created = await client.post("/auth/register", json={"email": email, "password": password})
        login = await client.post("/auth/jwt/login", data={"username": email.upper(), "password": password})
        token = login.json().get("access_token") if login.status_code == 200 else None
        headers = {"Authorization": f"Bearer {token}"}
        me = await client.get("/users/me", headers=headers)
        hello = await client.get("/authenticated-route", headers=headers)
        anonymous = await client.get("/users/me")

    log = await anyio.Path(log_path).read_text()
    assert created.status_code == 201, (created.text, log)
    assert login.status_code == 200, (login.text, log)
    assert me.status_code == 200, (me.text, log)
    assert (me.json()["email"], me.json()["id"]) == (email, created.json()["id"])
    assert hello.json() == {"message": f"Hello {email}!"}
    assert anonymous.status_code == 401


@pytest.mark.slow
async def test_demo_on_sqlite(tmp_path: Path) -> None:
    """The demo serves register, login and /users/me on a fresh SQLite file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"

    async with running_demo(url, tmp_path / "uvicorn.log") as base_url:
        await register_login_me(base_url, tmp_path / "uvicorn.log")

    assert (tmp_path / "demo.db").exists()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
async def test_demo_on_server_databases(tmp_path: Path, backend: str) -> None:
    """The demo serves register, login and /users/me with DATABASE_URL on PostgreSQL and MariaDB."""
    url = await database_url_for(backend, tmp_path)
    await prepare_shared_database(url)

    async with running_demo(url, tmp_path / "uvicorn.log") as base_url:
        await register_login_me(base_url, tmp_path / "uvicorn.log")
