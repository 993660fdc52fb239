"""The README's store-error handler on real refused connections: ``503 STORE_UNAVAILABLE``, not ``500``."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import redis.asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.readme_examples import run_examples
from tests.scale.processes import free_port


async def test_the_readme_handler_turns_store_outages_into_503() -> None:
    """A database and a Redis nobody listens on: both routes answer 503 STORE_UNAVAILABLE with Retry-After."""
    install: Callable[[FastAPI], None] = run_examples("store-errors")["add_store_error_handlers"]
    engine = create_async_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none", poolclass=NullPool, connect_args={"timeout": 3}
    )
    client = redis.asyncio.Redis(port=free_port(), socket_connect_timeout=3)
    app = FastAPI()
    install(app)

    @app.get("/database")
    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @app.get("/redis")
    async def redis_route() -> None:
        await client.get("key")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        responses = [await http.get("/database"), await http.get("/redis")]
    await client.aclose()
    await engine.dispose()

    assert [(r.status_code, r.json(), r.headers["Retry-After"]) for r in responses] == [
        (503, {"detail": "STORE_UNAVAILABLE"}, "5")
    ] * 2
