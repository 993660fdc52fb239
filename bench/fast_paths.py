"""CPU per ``GET /users/me`` (JWT) with the fast paths on, off, and with the row reader bypassed.

Same app and request loop as :mod:`bench.cpu_per_request`, but the three modes alternate in one
process (on, off, orm; then orm, off, on; ...), so a busy machine disturbs them alike:

* ``on``: ``fastapi_userkit.db.set_fast_paths(True)`` (the default);
* ``off``: ``set_fast_paths(False)``, the public-API row read;
* ``orm``: the adapter's ORM query for every read (the row reader replaced by one that always
  steps aside), what the per-request read cost before the row reader.

Usage (pin it to one CPU)::

    taskset -c 0 bench/.venvs/fastapi-userkit/bin/python -m bench.fast_paths sqlite+aiosqlite:////tmp/fp.db 6 2000
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid

import httpx

import fastapi_userkit.db.sqlalchemy as adapter
from bench.cpu_per_request import _get, load_app
from fastapi_userkit.db import set_fast_paths

READER = adapter.read_by_primary_key


async def orm_only(*_args: object) -> object:
    """A row reader that always steps aside."""
    return adapter.NOT_READ


def use(mode: str) -> None:
    """on / off: the switch; orm: the row reader bypassed, the adapter's ORM query for every read."""
    set_fast_paths(mode == "on")
    adapter.read_by_primary_key = orm_only if mode == "orm" else READER


async def main(url: str, rounds: int, requests: int) -> None:
    """Print each mode's median and range of CPU milliseconds per request over ``rounds`` alternations."""
    app = load_app("fastapi-userkit", url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            await client.post("/auth/register", json={"email": email, "password": "correct horse battery"})
            login = await client.post("/auth/jwt/login", data={"username": email, "password": "correct horse battery"})
            token = login.json()["access_token"]
        modes = ("on", "off", "orm")
        samples: dict[str, list[float]] = {mode: [] for mode in modes}
        for mode in modes:
            use(mode)
            for _ in range(300):
                if await _get(app, "/users/me", token) != 200:
                    raise SystemExit(f"GET /users/me did not answer 200 in mode {mode}")
        for round_ in range(rounds):
            for mode in modes if round_ % 2 == 0 else modes[::-1]:
                use(mode)
                started = time.process_time()
                for _ in range(requests):
                    await _get(app, "/users/me", token)
                samples[mode].append((time.process_time() - started) / requests * 1000)
    for mode in modes:
        values = samples[mode]
        print(
            f"{url.split(':', maxsplit=1)[0]} {mode:>3}: median {statistics.median(values):.3f} ms, "
            f"range {min(values):.3f}-{max(values):.3f} ({len(values)} x {requests})",
            flush=True,
        )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(
        main(
            arguments[0],
            int(arguments[1]) if len(arguments) > 1 else 6,
            int(arguments[2]) if len(arguments) > 2 else 2000,
        )
    )
