"""The refresh section of the README (``docs_snippets/refresh.md``) runs as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import require_service
from tests.readme_examples import examples

SNIPPET = Path(__file__).resolve().parents[2] / "docs_snippets" / "refresh.md"
NAMES = ("refresh-server", "refresh-redis", "refresh-mobile", "refresh-spa")
PASSWORD = "guinevere-and-the-grail"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the examples in a scratch directory (the quickstart's SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*names: str) -> dict[str, Any]:
    found = examples()  # the quickstart (README) and the section's own examples
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    for name in ("quickstart", *names):
        exec(compile(found[name], f"refresh.md:{name}", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def test_every_refresh_example_is_exercised() -> None:
    """Each example of the refresh section is run below."""
    assert set(examples(SNIPPET)) == set(NAMES)


async def test_mobile_and_spa_flows(in_tmp_dir: Path) -> None:
    """The server example serves the mobile (bearer) and single-page-app (cookie) flows end to end."""
    namespace = _run("refresh-server", "refresh-mobile", "refresh-spa")
    app: FastAPI = namespace["app"]

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as api:
            created = await api.post("/auth/register", json={"email": "arthur@camelot.bt", "password": PASSWORD})
            assert created.status_code == 201, created.text
            await namespace["mobile_client"](api, "arthur@camelot.bt", PASSWORD)
            api.cookies.clear()
            sessions = await namespace["single_page_app"](api, "arthur@camelot.bt", PASSWORD)
            after_logout = await api.post("/auth/spa/refresh")

    assert [session["current"] for session in sessions] == [True]
    assert after_logout.status_code == 401


async def test_redis_store_example(in_tmp_dir: Path) -> None:
    """The Redis example builds settings over a working Redis store."""
    require_service("redis")
    namespace = _run("refresh-server", "refresh-redis")
    store = namespace["redis_sessions"].store

    try:
        assert await store.list_for_user("nobody") == []
    finally:
        await store.redis.aclose()
