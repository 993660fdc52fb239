"""CPU time per ``GET /users/me`` (JWT), in process, without HTTP or load generator noise.

Runs FastAPI Users' documented SQLAlchemy app (``tests/compat/fastapi_users_app.py`` with its
imports pointed back at FastAPI Users, or as written for fastapi-userkit) by calling the ASGI app
directly, sequentially, and reports the median of 5 runs of 2,000 requests in process CPU time
(``time.process_time``), which a busy machine disturbs far less than wall time.

Two more endpoints are added to the app for reference: ``/bench/bare`` (a constant) and
``/bench/chain``, which depends only on the app's own ``get_user_manager`` (its session,
user-database and manager dependencies: the floor every library pays in this app before it
reads a token).

Usage (each library in its own bench environment; an optional third argument names the path)::

    bench/.venvs/fastapi-users/bin/python -m bench.cpu_per_request fastapi-users sqlite+aiosqlite:////tmp/fu.db
    bench/.venvs/fastapi-userkit/bin/python -m bench.cpu_per_request fastapi-userkit sqlite+aiosqlite:////tmp/uk.db
    bench/.venvs/fastapi-userkit/bin/python -m bench.cpu_per_request fastapi-userkit \\
        sqlite+aiosqlite:////tmp/uk.db /bench/chain
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import types
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def load_app(library: str, database_url: str) -> Any:
    """The documented app for ``library`` ("fastapi-users" or "fastapi-userkit") on ``database_url``."""
    source = (ROOT / "tests" / "compat" / "fastapi_users_app.py").read_text()
    source = source.replace('"sqlite+aiosqlite:///./test.db"', repr(database_url))
    if library == "fastapi-users":
        source = source.replace("fastapi_userkit.db", "fastapi_users_db_sqlalchemy").replace(
            "fastapi_userkit", "fastapi_users"
        )
    module = types.ModuleType(f"bench_app_{uuid.uuid4().hex}")
    sys.modules[module.__name__] = module
    exec(compile(source, "fastapi_users_app.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    app = module.app
    from fastapi import Depends

    async def bench_bare() -> dict[str, str]:
        return {"status": "ok"}

    async def bench_chain(_manager: Any = Depends(module.get_user_manager)) -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route("/bench/bare", bench_bare, methods=["GET"])
    app.add_api_route("/bench/chain", bench_chain, methods=["GET"])
    return app


async def _get(app: Any, path: str, token: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    status: dict[str, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]

    await app(scope, receive, send)
    return status["code"]


async def measure(
    library: str, database_url: str, requests: int = 2000, runs: int = 5, path: str = "/users/me"
) -> float:
    """Median CPU milliseconds per request."""
    import httpx

    app = load_app(library, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            await client.post("/auth/register", json={"email": email, "password": "correct horse battery"})
            login = await client.post("/auth/jwt/login", data={"username": email, "password": "correct horse battery"})
            token = login.json()["access_token"]
        if await _get(app, path, token) != 200:
            raise SystemExit(f"GET {path} did not answer 200")
        for _ in range(300):
            await _get(app, path, token)
        samples = []
        for _ in range(runs):
            started = time.process_time()
            for _ in range(requests):
                await _get(app, path, token)
            samples.append((time.process_time() - started) / requests * 1000)
    return statistics.median(samples)


if __name__ == "__main__":
    library_name, url = sys.argv[1], sys.argv[2]
    request_path = sys.argv[3] if len(sys.argv) > 3 else "/users/me"
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    cost = asyncio.run(measure(library_name, url, path=request_path))
    print(f"{library_name} {url.split(':', 1)[0]} {request_path}: {cost:.3f} ms CPU per request")
