"""Soak: three workers on PostgreSQL + Redis under a steady mixed workload (issue 22, item 4).

Not part of ``make test``. Run ``.venv/bin/python -m bench.soak --duration 600 --rate 20``: it
creates a scratch database on the PostgreSQL of DESIGN.md (dropped at the end), starts three
uvicorn workers of ``tests/scale/worker_app.py`` in ``redis`` mode (Redis tokens, counters and
sessions; the tests' cheap Argon2 parameters, so the soak exercises everything but hashing
cost), and sends register, login, ``/users/me``, refresh and logout requests at a fixed rate,
open loop (a slow answer does not slow the sender). Every ``--window`` seconds it prints one row:
requests, errors (any 5xx or transport error; 4xx are counted apart and expected to be 0),
p50/p99 latency, each worker's RSS and the connections the workers hold on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import REDIS_PREFIX, REDIS_URL
from tests.scale.conftest import WORKERS, scratch_database
from tests.scale.processes import Workers

PASSWORD = "a long passphrase"
MIX = (("register", 10), ("login", 15), ("me", 50), ("refresh", 15), ("logout", 10))


@dataclass
class Account:
    email: str
    address: str
    access: str | None = None
    refresh: str | None = None
    registered: bool = False
    busy: bool = False


@dataclass
class Window:
    started: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass
class Soak:
    workers: Workers
    http: httpx.AsyncClient
    accounts: list[Account] = field(default_factory=list)
    window: Window = field(default_factory=lambda: Window(time.monotonic()))
    sent: int = 0

    def _headers(self, account: Account, token: bool = False) -> dict[str, str]:
        headers = {"X-Forwarded-For": account.address}
        if token and account.access:
            headers["Authorization"] = f"Bearer {account.access}"
        return headers

    async def _call(self, kind: str, method: str, path: str, **kw: object) -> httpx.Response | None:
        url = self.workers.url(self.sent)
        self.sent += 1
        start = time.monotonic()
        try:
            response = await self.http.request(method, url + path, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.window.statuses[f"{kind}:{type(exc).__name__}"] += 1
            return None
        self.window.latencies.append(time.monotonic() - start)
        self.window.statuses[f"{kind}:{response.status_code}"] += 1
        return response

    async def step(self, kind: str) -> None:
        """One request of ``kind`` for an account no other request is using (so every 4xx is a bug)."""
        idle = [a for a in self.accounts if a.registered and not a.busy]
        ready = [a for a in idle if a.access]
        if kind == "register" or not idle:
            n = len(self.accounts)
            account = Account(f"soak{n}@example.com", f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}", busy=True)
            self.accounts.append(account)
            body = {"email": account.email, "password": PASSWORD}
            response = await self._call("register", "POST", "/auth/register", json=body, headers=self._headers(account))
            account.registered, account.busy = response is not None and response.status_code == 201, False
            return
        account = random.choice(ready if kind != "login" and ready else idle)  # noqa: S311 - a workload
        account.busy = True
        try:
            await self._step(kind if account.access else "login", account)
        finally:
            account.busy = False

    async def _step(self, kind: str, account: Account) -> None:
        if kind == "login":
            data = {"username": account.email, "password": PASSWORD}
            response = await self._call(
                "login", "POST", "/auth/bearer/login", data=data, headers=self._headers(account)
            )
            if response is not None and response.status_code == 200:
                account.access, account.refresh = response.json()["access_token"], response.json()["refresh_token"]
        elif kind == "me":
            await self._call("me", "GET", "/users/me", headers=self._headers(account, token=True))
        elif kind == "refresh":
            body = {"refresh_token": account.refresh}
            response = await self._call(
                "refresh", "POST", "/auth/bearer/refresh", json=body, headers=self._headers(account)
            )
            if response is not None and response.status_code == 200:
                account.access, account.refresh = response.json()["access_token"], response.json()["refresh_token"]
        else:
            await self._call("logout", "POST", "/auth/bearer/logout", headers=self._headers(account, token=True))
            account.access = account.refresh = None


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _connections(url: str) -> int:
    database = url.rsplit("/", 1)[1]
    engine = create_async_engine(url.rsplit("/", 1)[0] + "/test", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"), {"db": database}
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


def _p(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else values[0] * 1000
    )


async def run(workers: Workers, database_url: str, duration: float, rate: float, window: float) -> int:
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    tasks: set[asyncio.Task[None]] = set()
    totals: Counter[str] = Counter()
    print(f"# soak: {WORKERS} workers, {rate:g} requests/s, {duration:g} s, mix {dict(MIX)}")
    print(
        "| t (s) | requests | 5xx / transport errors | other 4xx | p50 ms | p99 ms | worker RSS MiB | DB connections |"
    )
    print("|--:|--:|--:|--:|--:|--:|--|--:|")
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as http:
        soak = Soak(workers, http)
        start = time.monotonic()
        next_at, next_report = start, start + window
        while (now := time.monotonic()) < start + duration:
            if now >= next_report:
                w, soak.window = soak.window, Window(now)
                totals.update(w.statuses)
                bad = sum(
                    n for key, n in w.statuses.items() if not key.split(":")[1].isdigit() or key.split(":")[1] >= "500"
                )
                other = sum(
                    n
                    for key, n in w.statuses.items()
                    if key.split(":")[1].isdigit() and "400" <= key.split(":")[1] < "500"
                )
                rss = " / ".join(f"{_rss_mib(p.pid):.0f}" for p in workers.processes)
                held = await _connections(database_url)
                print(
                    f"| {now - start:.0f} | {sum(w.statuses.values())} | {bad} | {other} | {_p(w.latencies, 50):.0f} "
                    f"| {_p(w.latencies, 99):.0f} | {rss} | {held} |",
                    flush=True,
                )
                next_report += window
            if now >= next_at:
                task = asyncio.create_task(soak.step(random.choice(kinds)))  # noqa: S311
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += 1 / rate
            await asyncio.sleep(
                min(next_at, next_report) - time.monotonic() if min(next_at, next_report) > time.monotonic() else 0
            )
        await asyncio.gather(*tasks)
        totals.update(soak.window.statuses)
    print(f"\ntotals by request and status: {dict(sorted(totals.items()))}")
    errors = sum(n for key, n in totals.items() if not key.split(":")[1].isdigit() or key.split(":")[1] >= "500")
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--rate", type=float, default=20, help="requests per second, all workers together")
    parser.add_argument("--window", type=float, default=30, help="seconds per reported row")
    args = parser.parse_args()
    prefix = f"{REDIS_PREFIX}soak:"
    with scratch_database("soak") as url:
        env = {
            "USERKIT_SCALE_MODE": "redis",
            "USERKIT_SCALE_DATABASE_URL": url,
            "USERKIT_SCALE_REDIS_URL": REDIS_URL,
            "USERKIT_SCALE_REDIS_PREFIX": prefix,
        }
        workers = Workers("tests.scale.worker_app:app", env, Path(tempfile.mkdtemp()) / "soak-workers.log")
        try:
            workers.start(WORKERS)
            return asyncio.run(run(workers, url, args.duration, args.rate, args.window))
        finally:
            workers.stop()
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
            client.close()


if __name__ == "__main__":
    sys.exit(main())
