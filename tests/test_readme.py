"""The README's examples run as written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI

from fastapi_userkit import FastAPIUsers
from tests.conftest import REDIS_URL, require_service
from tests.readme_examples import examples, run_examples

PASSWORD = "guinevere-and-the-grail"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_example_is_exercised() -> None:
    """Each README example has a test here (a new example without a test fails this)."""
    tested = {"quickstart", "database-strategy", "redis-strategy", "jwt-revocation"}

    assert tested <= set(examples())


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _register_and_login(client: httpx.AsyncClient, login_path: str) -> dict[str, str]:
    created = await client.post("/auth/register", json={"email": "arthur@camelot.bt", "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = await client.post(login_path, data={"username": "arthur@camelot.bt", "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_quickstart(in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The quickstart app registers, logs in, serves /users/me and its hooks print."""
    namespace = run_examples("quickstart")
    app: FastAPI = namespace["app"]

    async with app.router.lifespan_context(app):
        async for client in _client(app):
            headers = await _register_and_login(client, "/auth/jwt/login")
            me = await client.get("/users/me", headers=headers)
            hello = await client.get("/authenticated-route", headers=headers)
            await client.post("/auth/forgot-password", json={"email": "arthur@camelot.bt"})

    await namespace["engine"].dispose()
    assert me.status_code == 200
    assert hello.json() == {"message": "Hello arthur@camelot.bt!"}
    assert (in_tmp_dir / "test.db").exists()
    printed = capsys.readouterr().out
    assert "has registered." in printed
    assert "Reset token:" in printed


def _app_with_backend(namespace: dict[str, Any]) -> FastAPI:
    """The quickstart's app assembly, over the example's ``auth_backend``."""
    backend = namespace["auth_backend"]
    fastapi_users = FastAPIUsers[Any, uuid.UUID](namespace["get_user_manager"], [backend])
    app = FastAPI(lifespan=namespace["lifespan"])
    app.include_router(fastapi_users.get_auth_router(backend), prefix=f"/auth/{backend.name}")
    app.include_router(
        fastapi_users.get_register_router(namespace["UserRead"], namespace["UserCreate"]), prefix="/auth"
    )
    app.include_router(fastapi_users.get_users_router(namespace["UserRead"], namespace["UserUpdate"]), prefix="/users")
    return app


async def _logout_ends_session(app: FastAPI, name: str) -> None:
    async with app.router.lifespan_context(app):
        async for client in _client(app):
            headers = await _register_and_login(client, f"/auth/{name}/login")
            before = await client.get("/users/me", headers=headers)
            logout = await client.post(f"/auth/{name}/logout", headers=headers)
            after = await client.get("/users/me", headers=headers)

    assert (before.status_code, logout.status_code, after.status_code) == (200, 204, 401)


async def test_database_strategy_example(in_tmp_dir: Path) -> None:
    """The database-strategy example logs in and out for real."""
    namespace = run_examples("quickstart", "database-strategy")

    await _logout_ends_session(_app_with_backend(namespace), "db")
    await namespace["engine"].dispose()


async def test_jwt_revocation_example(in_tmp_dir: Path) -> None:
    """The revocable-JWT example ends a JWT at logout."""
    namespace = run_examples("quickstart", "jwt-revocation")

    await _logout_ends_session(_app_with_backend(namespace), "jwt")
    await namespace["engine"].dispose()


async def test_redis_strategy_example(in_tmp_dir: Path) -> None:
    """The Redis-strategy example logs in and out for real (its keys are removed afterwards)."""
    require_service("redis")
    namespace = run_examples("quickstart", "redis-strategy")
    try:
        await _logout_ends_session(_app_with_backend(namespace), "redis")
    finally:
        await namespace["engine"].dispose()
        await namespace["redis_client"].aclose()
        cleanup = redis.asyncio.from_url(REDIS_URL)
        async with cleanup:
            async for key in cleanup.scan_iter("fastapi_users_token:user:*"):
                await cleanup.delete(key)
