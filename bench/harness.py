"""Runs a plan: per database, both servers side by side, the scenarios alternating the libraries.

For each database the two servers (same app text, same database engine in separate databases,
same seeded users and hash) start pinned to CPU 0 and stay up for every scenario of that
database; wrk runs pinned to CPU 1. Each scenario runs its repeats as FU, userkit, userkit, FU,
FU... so that drift of a shared, noisy machine falls on both sides equally. The median of the
repeats is reported.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.apps import write_apps
from bench.cpu_table import measure_cpu_table
from bench.envs import REPO_DIR, Env
from bench.scenarios import SCENARIOS, Plan, Scenario
from bench.servers import CPU_CLIENT, CPU_SERVER, Databases, ProcessSet, Server, pinning_available
from bench.wrk import Load, WrkResult, finish_wrk, run_wrk, start_wrk

__all__ = ["LIBRARIES", "PASSWORD", "Harness"]

LIBRARIES = ("fastapi-users", "fastapi-userkit")
PASSWORD = "Vx7-bench-correct-horse-battery"


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the numeric measures of ``runs`` (sums for error counts)."""
    if not runs:
        return {}
    summary: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            summary[key] = summarize([run[key] for run in runs])
        elif key in {
            "non_2xx",
            "socket_errors",
            "timeouts",
            "server_errors",
            "errors",
            "requests",
            "sent",
            "stored",
        }:
            summary[key] = sum(run[key] for run in runs)
        elif isinstance(value, int | float):
            summary[key] = _median([float(run[key]) for run in runs])
    return summary


@dataclass
class Harness:
    """One benchmark run."""

    plan: Plan
    envs: dict[str, Env]
    wrk: str
    workdir: Path
    processes: ProcessSet = field(default_factory=ProcessSet)
    pin: bool = field(default_factory=pinning_available)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    _urls: dict[tuple[str, str], str] = field(default_factory=dict)

    def seed_hash(self) -> str:
        """The password hash of the seeded users, made once with pwdlib's default Argon2id."""
        code = f"from pwdlib import PasswordHash; print(PasswordHash.recommended().hash({PASSWORD!r}))"
        return subprocess.run(
            [str(self.envs["fastapi-users"].python), "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()

    def run(self) -> dict[str, Any]:
        """Run every database of the plan; return the results (see ``bench.report``)."""
        databases = Databases(self.workdir)
        modules = write_apps(self.workdir / "apps")
        seed_hash = self.seed_hash()
        results: dict[str, Any] = {}
        try:
            for backend in self.plan.backends:
                if backend == "postgresql" and not databases.postgres_available():
                    self._skip(f"{backend}: PostgreSQL is not reachable on 127.0.0.1:5432")
                    continue
                results[backend] = self._run_backend(backend, databases, modules, seed_hash)
        finally:
            self.processes.stop_all()
            databases.cleanup()
        return results

    def _skip(self, message: str) -> None:
        _log(f"skipped: {message}")
        self.skipped.append(message)

    def _start_pair(
        self, backend: str, databases: Databases, modules: dict[str, str], seed_hash: str, cores: int
    ) -> dict[str, Server]:
        cpus = self._cpus(cores)
        servers: dict[str, Server] = {}
        for library in LIBRARIES:
            env = self._variables(backend, library, databases, seed_hash)
            server = Server(
                library,
                self.envs[library].python,
                self.workdir / "apps",
                modules[library],
                env,
                self.workdir / f"{backend}-{library}-{cores}.log",
                self.processes,
                cpus,
            )
            _log(f"{backend}: starting {library} on {cores} core(s)")
            server.start()
            servers[library] = server
        return servers

    def _cpus(self, cores: int) -> tuple[int, ...] | None:
        return None if not self.pin else (CPU_SERVER,) if cores == 1 else (CPU_SERVER, CPU_CLIENT)

    def _variables(self, backend: str, library: str, databases: Databases, seed_hash: str) -> dict[str, str]:
        """The ``BENCH_*`` environment of ``library``'s app on ``backend`` (its database made once)."""
        env = {
            "BENCH_DATABASE_URL": self._urls.get((backend, library)) or databases.url(backend, library),
            "BENCH_SECRET": secrets.token_urlsafe(32),
            "BENCH_REDIS_PREFIX": databases.redis_prefix(library),
            "BENCH_SEED_USERS": str(self.plan.seed_users),
            "BENCH_SEED_HASH": seed_hash,
            "BENCH_PASSWORD": PASSWORD,
        }
        self._urls[backend, library] = env["BENCH_DATABASE_URL"]
        return env

    def _cpu_table(self, backend: str, databases: Databases, modules: dict[str, str], seed_hash: str) -> dict[str, Any]:
        """The in-process CPU-per-request table of ``backend`` (before its servers start)."""
        started = time.monotonic()
        table = measure_cpu_table(
            self.envs,
            self.workdir / "apps",
            modules,
            {library: self._variables(backend, library, databases, seed_hash) for library in LIBRARIES},
            self.processes,
            self.workdir,
            rounds=self.plan.cpu_rounds,
            requests=self.plan.cpu_requests,
            pin=self.pin,
            label=backend,
        )
        _log(f"{backend}: cpu table ({time.monotonic() - started:.0f} s)")
        return table

    def hash_cap(self, cores: int) -> dict[str, Any]:
        """The hash cap on ``cores`` cores (pinned as the servers are): :mod:`bench.hash_cap`'s answer."""
        cpus = self._cpus(cores)
        argv = [str(self.envs["fastapi-userkit"].python), "-m", "bench.hash_cap", str(cores)]
        argv.append(str(self.plan.hash_cap_seconds))
        if cpus is not None:
            argv = ["taskset", "-c", ",".join(map(str, cpus)), *argv]
        output = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=REPO_DIR).stdout
        cap: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        _log(f"hash cap, {cores} core(s): {cap['per_second']} hashes/s")
        return cap

    def _run_backend(
        self, backend: str, databases: Databases, modules: dict[str, str], seed_hash: str
    ) -> dict[str, Any]:
        outcome: dict[str, Any] = {"scenarios": {}, "peak_rss_mb": {}, "peak_rss_mb_get_phase": {}, "hash_cap": {}}
        redis = databases.redis_available()
        if self.plan.cpu_rounds > 0:
            outcome["cpu"] = self._cpu_table(backend, databases, modules, seed_hash)
        chosen = [scenario for scenario in SCENARIOS if scenario.id in self.plan.scenarios]
        if self.plan.post_backends is not None and backend not in self.plan.post_backends:
            chosen = [scenario for scenario in chosen if scenario.kind == "get"]
        for cores in (1, 2):
            batch = [scenario for scenario in chosen if scenario.cores == cores]
            if not batch:
                continue
            if any(scenario.kind in {"login", "register"} for scenario in batch):
                outcome["hash_cap"][str(cores)] = self.hash_cap(cores)
            servers = self._start_pair(backend, databases, modules, seed_hash, cores)
            try:
                strategies = ("jwt", "database", "redis") if redis else ("jwt", "database")
                if all(scenario.kind in {"login", "register"} for scenario in batch):
                    strategies = ()
                tokens = {
                    library: {
                        strategy: server.login(f"/auth/{strategy}/login", "user0@example.com", PASSWORD)
                        for strategy in strategies
                    }
                    for library, server in servers.items()
                }
                for scenario in batch:
                    if scenario.needs_redis and not redis:
                        self._skip(f"{backend}/{scenario.id}: Redis is not reachable on 127.0.0.1:6379")
                        continue
                    if scenario.kind != "get" and cores == 1 and not outcome["peak_rss_mb_get_phase"]:
                        outcome["peak_rss_mb_get_phase"] = {
                            library: round(server.peak_rss_mb(), 1) for library, server in servers.items()
                        }
                    started = time.monotonic()
                    outcome["scenarios"][scenario.id] = self._run_scenario(backend, scenario, servers, tokens)
                    _log(f"{backend}: {scenario.id} ({time.monotonic() - started:.0f} s)")
                key = "peak_rss_mb" if cores == 1 else "peak_rss_mb_2cores"
                outcome[key] = {library: round(server.peak_rss_mb(), 1) for library, server in servers.items()}
                if cores == 1:
                    outcome["new_hash_params"] = {
                        library: self._new_hash_params(backend, server) for library, server in servers.items()
                    }
            finally:
                for server in servers.values():
                    server.stop()
        return outcome

    def _order(self, repeat: int) -> tuple[str, ...]:
        return LIBRARIES if repeat % 2 == 0 else LIBRARIES[::-1]

    def _run_scenario(
        self, backend: str, scenario: Scenario, servers: dict[str, Server], tokens: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        record: dict[str, Any] = {"title": scenario.title, "kind": scenario.kind, "path": scenario.path}
        runs: dict[str, list[dict[str, Any]]] = {library: [] for library in LIBRARIES}
        repeats = {"get": self.plan.get_repeats, "storm": self.plan.storm_repeats}.get(
            scenario.kind, self.plan.post_repeats
        )
        if scenario.kind == "get" and self.plan.warmup_seconds:
            for library in LIBRARIES:
                self._get(servers[library], scenario, tokens[library], self.plan.warmup_seconds)
        for repeat in range(repeats):
            for library in self._order(repeat):
                server = servers[library]
                if not server.alive():
                    raise RuntimeError(f"{library} server died:\n{server.log_tail()}")
                run = self._measure(backend, scenario, server, tokens[library], repeat)
                runs[library].append(run)
                self._check(backend, scenario, library, run)
        for library in LIBRARIES:
            record[library] = {"runs": runs[library], "median": summarize(runs[library])}
        return record

    def _measure(
        self, backend: str, scenario: Scenario, server: Server, tokens: dict[str, str], repeat: int
    ) -> dict[str, Any]:
        if scenario.kind == "get":
            return self._get(server, scenario, tokens, self.plan.get_seconds).as_dict()
        if scenario.kind == "storm":
            return self._storm(server, tokens["jwt"])
        if scenario.kind == "login":
            load = Load(
                f"{server.base_url}{scenario.path}",
                self.plan.post_connections,
                self.plan.post_seconds,
                "login.lua",
                (str(self.plan.seed_users), PASSWORD),
                timeout_s=60,
            )
        else:
            prefix = f"reg-{backend}-{scenario.id}-{repeat}-{secrets.token_hex(3)}"
            load = Load(
                f"{server.base_url}{scenario.path}",
                self.plan.post_connections,
                self.plan.post_seconds,
                "register.lua",
                (prefix, PASSWORD),
                timeout_s=60,
            )
        result = run_wrk(self.processes, self.wrk, load, self.pin).as_dict()
        # Requests whose clients left are still being served: let them finish on the same cores.
        drain = server.wait_idle(self.plan.idle_timeout)
        result["drain_seconds"] = round(drain, 2)
        if scenario.kind == "register" and drain < self.plan.idle_timeout - 1:
            # Registrations answered after wrk stopped are not in its report: count the rows. Sent but
            # not stored means failed, or cut by wrk at the stop (at most one per connection).
            result["stored"] = self._count_users(backend, server, f"{load.args[0]}-%")
        return result

    def _get(self, server: Server, scenario: Scenario, tokens: dict[str, str], seconds: int) -> WrkResult:
        load = Load(
            f"{server.base_url}{scenario.path}",
            self.plan.get_connections,
            seconds,
            "get.lua",
            (tokens[scenario.strategy],),
            timeout_s=30,
        )
        return run_wrk(self.processes, self.wrk, load, self.pin)

    def _storm(self, server: Server, token: str) -> dict[str, Any]:
        url = f"{server.base_url}/users/me"
        quiet = run_wrk(
            self.processes,
            self.wrk,
            Load(url, self.plan.storm_connections, self.plan.storm_quiet_seconds, "get.lua", (token,)),
            self.pin,
        )
        login_load = Load(
            f"{server.base_url}/auth/jwt/login",
            self.plan.post_connections,
            self.plan.storm_seconds + 1,
            "login.lua",
            (str(self.plan.seed_users), PASSWORD),
            timeout_s=60,
        )
        logins = start_wrk(self.processes, self.wrk, login_load, self.pin)
        try:
            time.sleep(0.5)  # let the 16 logins reach the server before the cheap requests start
            storm = run_wrk(
                self.processes,
                self.wrk,
                Load(url, self.plan.storm_connections, self.plan.storm_seconds, "get.lua", (token,)),
                self.pin,
            )
        finally:
            login = finish_wrk(self.processes, logins, login_load)
        drain = server.wait_idle(self.plan.idle_timeout)
        # No cheap request answered during the storm: its p99 is beyond the run (wrk drops requests
        # in flight when it stops), so the run length is a lower bound.
        storm_p99 = storm.p99_ms if storm.requests else self.plan.storm_seconds * 1000.0
        factor = storm_p99 / quiet.p99_ms if quiet.p99_ms else 0.0
        return {
            "quiet": quiet.as_dict(),
            "storm": storm.as_dict(),
            "logins": login.as_dict(),
            "storm_p99_ms": storm_p99,
            "storm_p99_lower_bound": not storm.requests,
            "p99_factor": round(factor, 2),
            "drain_seconds": round(drain, 2),
        }

    def _check(self, backend: str, scenario: Scenario, library: str, run: dict[str, Any]) -> None:
        """Record harness failures: error answers, or a GET load that got no answer at all.

        A POST load may finish with no answer on a slow or busy machine (a login costs 0.2 s of
        CPU and 16 wait in line), so only its error answers count.
        """
        if scenario.kind == "register":
            return  # errors there are a measured result, not a harness failure
        # During a storm, FastAPI Users may answer no cheap request at all: that is the finding.
        parts = [run["quiet"], run["logins"]] if scenario.kind == "storm" else [run]
        for part in parts:
            if part["errors"] or (scenario.kind == "get" and not part["requests"]):
                self.failures.append(
                    f"{backend}/{scenario.id}/{library}: {part['requests']} requests, "
                    f"{part['non_2xx']} non-2xx, {part['socket_errors']} socket errors ({part['statuses']})"
                )

    def _count_users(self, backend: str, server: Server, pattern: str) -> int | None:
        query = f"SELECT count(*) FROM \"user\" WHERE email LIKE '{pattern}'"  # noqa: S608 - our own literal
        value = self._query(backend, server, query)
        return None if value is None or isinstance(value, Exception) else int(value)

    def _query(self, backend: str, server: Server, query: str) -> Any:
        url = server.env["BENCH_DATABASE_URL"]
        try:
            if backend == "sqlite":
                with sqlite3.connect(url.split("///", 1)[1], timeout=30) as connection:
                    row = connection.execute(query).fetchone()
                return row[0] if row else None
            return asyncio.run(_postgres_value(url.replace("+asyncpg", ""), query))
        except Exception as exc:  # noqa: BLE001 - informative only
            return exc

    def _new_hash_params(self, backend: str, server: Server) -> str | None:
        """Register one user and return the parameter prefix of the hash the server made for it."""
        server.wait_idle(30)  # registrations of the last load may still be running
        email = f"reg-probe-{secrets.token_hex(4)}@example.com"
        status = server.register(email, PASSWORD)
        if status != 201:
            self.failures.append(f"{backend}/{server.library}: POST /auth/register answered {status}")
            return None
        value = self._query(backend, server, f"SELECT hashed_password FROM \"user\" WHERE email = '{email}'")  # noqa: S608
        if isinstance(value, Exception):
            return f"unreadable: {value}"
        return str(value).rsplit("$", 2)[0] if value else None


async def _postgres_value(dsn: str, query: str) -> str | None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        value = await connection.fetchval(query)
    finally:
        await connection.close()
    return None if value is None else str(value)
