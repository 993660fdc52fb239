"""``python -m bench --profile``: where fastapi-userkit spends ``GET /users/me`` (JWT) under load.

For each database: start the userkit server pinned to CPU 0 (the benchmark's app), load
``GET /users/me`` with wrk on CPU 1, and sample the server with ``py-spy record`` (from the tools
environment) for the whole run. Writes, per database, a flame graph (``profile-<db>.svg``), the
raw collapsed stacks (``profile-<db>.txt``) and a summary of the hot spots (``profile-<db>.md``):
the share of samples of each function (self and inclusive) and of each package.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.apps import write_apps
from bench.cpu_table import CpuWorker
from bench.envs import BENCH_DIR, ensure_server_envs, ensure_tools_env, ensure_wrk
from bench.harness import PASSWORD, Harness
from bench.scenarios import PLANS
from bench.servers import CPU_CLIENT, CPU_SERVER, Databases, Server
from bench.wrk import Load, finish_wrk, start_wrk

__all__ = ["run_profile", "summarize_stacks"]

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Inclusive shares are reported for these groups of files (first match wins).
_PACKAGES = (
    ("fastapi_userkit", "fastapi_userkit/"),
    ("sqlalchemy", "sqlalchemy/"),
    ("fastapi", "fastapi/"),
    ("starlette", "starlette/"),
    ("pydantic", "pydantic"),
    ("uvicorn", "uvicorn/"),
    ("jwt", "jwt/"),
    ("asyncpg", "asyncpg/"),
    ("aiosqlite", "aiosqlite/"),
    ("anyio", "anyio/"),
    ("asyncio", "asyncio/"),
    ("json", "json/"),
)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# Frames present in (nearly) every sample: the server's entry point, not a hot spot.
_OUTER = (
    "click/",
    "<frozen runpy>",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "asyncio/runners.py",
    "threading.py",
    "uvicorn/__main__.py",
)


def _parse(raw: str) -> list[tuple[list[str], int]]:
    stacks = []
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match.group("file")
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('function')} ({path})"


def summarize_stacks(raw: str, top: int = 25) -> dict[str, Any]:
    """Self and inclusive shares of functions, packages and threads in py-spy's collapsed stacks."""
    stacks = _parse(raw)
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for frames, count in stacks:
        thread = frames[0] if frames and frames[0].startswith("thread") else "?"
        threads[thread] += count
        python_frames = [frame for frame in frames if not frame.startswith(("thread", "process"))]
        if python_frames:
            own[_short(python_frames[-1])] += count
        for name in {_short(frame) for frame in python_frames if not any(outer in frame for outer in _OUTER)}:
            inclusive[name] += count
        seen = set()
        for frame in python_frames:
            for package, marker in _PACKAGES:
                if marker in frame and package not in seen:
                    seen.add(package)
                    packages[package] += count
                    break

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * count / total, 1)) for name, count in counter.most_common(top)]

    return {
        "samples": total,
        "threads": share(threads),
        "packages": share(packages),
        "self": share(own),
        "inclusive": [(name, round(100 * count / total, 1)) for name, count in inclusive.most_common(2 * top)],
    }


def _markdown(backend: str, result: dict[str, Any], summary: dict[str, Any]) -> str:
    lines = [
        f"# Profile of fastapi-userkit GET /users/me (JWT), {backend}",
        "",
        (
            f"wrk: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
            f"(under py-spy); {summary['samples']} samples."
        ),
    ]
    for title, key in (
        ("Threads", "threads"),
        ("Packages (inclusive)", "packages"),
        ("Functions, self", "self"),
        ("Functions, inclusive", "inclusive"),
    ):
        lines += ["", f"## {title}", "", "| share | name |", "|--:|---|"]
        lines += [f"| {value:.1f} % | `{name}` |" for name, value in summary[key]]
    return "\n".join(lines) + "\n"


def run_callgrind(args: argparse.Namespace, backends: tuple[str, ...], output: Path) -> int:
    """Instructions per request of ``args.callgrind``'s keys, each database, under callgrind.

    The userkit CPU worker (:mod:`bench.cpu_worker`) runs under ``valgrind --tool=callgrind
    --instr-atstart=no``; for each key it switches instrumentation on for ``--callgrind-requests``
    requests and reads the dump's total. Instruction counts do not move with the machine's
    load, so they settle an A/B of a small change where CPU time cannot; valgrind makes the
    worker ~50x slower while it counts. ``BENCH_FAST_PATHS=0`` in the environment measures the
    switch off. Writes ``callgrind-<db>.json`` and prints one line per key.
    """
    envs = ensure_server_envs()
    keys = args.callgrind.split(",")
    with tempfile.TemporaryDirectory(prefix="userkit-callgrind-") as workdir:
        harness = Harness(PLANS["full"], envs, "", Path(workdir))
        databases = Databases(Path(workdir))
        modules = write_apps(Path(workdir) / "apps")
        seed_hash = harness.seed_hash()
        try:
            for backend in backends:
                variables = harness._variables(backend, "fastapi-userkit", databases, seed_hash)
                worker = CpuWorker(
                    "fastapi-userkit",
                    envs["fastapi-userkit"],
                    Path(workdir) / "apps",
                    modules["fastapi-userkit"],
                    variables,
                    harness.processes,
                    Path(workdir) / f"callgrind-{backend}.log",
                    pin=harness.pin,
                    valgrind=True,
                )
                try:
                    counts = {}
                    for key in keys:
                        worker.measure(key, 20)  # warm-up, not counted
                        counts[key] = round(worker.instructions(key, args.callgrind_requests))
                        print(f"{backend} {key}: {counts[key]:,} instructions per request", flush=True)
                finally:
                    worker.stop()
                (output / f"callgrind-{backend}.json").write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
        finally:
            harness.processes.stop_all()
            databases.cleanup()
    return 0


def run_profile(args: argparse.Namespace) -> int:
    """Profile each database; the exit status."""
    backends = tuple(args.backends.split(",")) if args.backends else ("sqlite", "postgresql")
    output: Path = args.output or (BENCH_DIR / "results")
    output.mkdir(parents=True, exist_ok=True)
    if args.callgrind:
        return run_callgrind(args, backends, output)
    envs = ensure_server_envs()
    tools = ensure_tools_env()
    wrk = ensure_wrk()
    py_spy = tools.path / "bin" / "py-spy"
    seconds = args.profile_seconds
    with tempfile.TemporaryDirectory(prefix="userkit-profile-") as workdir:
        harness = Harness(PLANS["full"], envs, wrk, Path(workdir))
        databases = Databases(Path(workdir))
        modules = write_apps(Path(workdir) / "apps")
        seed_hash = harness.seed_hash()
        try:
            for backend in backends:
                env = {
                    "BENCH_DATABASE_URL": databases.url(backend, "fastapi-userkit"),
                    "BENCH_SECRET": "profile-secret-0123456789abcdef0123456789",
                    "BENCH_REDIS_PREFIX": databases.redis_prefix("fastapi-userkit"),
                    "BENCH_SEED_USERS": "10",
                    "BENCH_SEED_HASH": seed_hash,
                }
                server = Server(
                    "fastapi-userkit",
                    envs["fastapi-userkit"].python,
                    Path(workdir) / "apps",
                    modules["fastapi-userkit"],
                    env,
                    Path(workdir) / f"profile-{backend}.log",
                    harness.processes,
                    (CPU_SERVER,) if harness.pin else None,
                )
                server.start()
                token = server.login("/auth/jwt/login", "user0@example.com", PASSWORD)
                load = Load(f"{server.base_url}/users/me", 64, seconds + 2, "get.lua", (token,))
                wrk_process = start_wrk(harness.processes, wrk, load, harness.pin)
                time.sleep(1)
                raw = output / f"profile-{backend}.txt"
                spy = ["taskset", "-c", str(CPU_CLIENT)] if harness.pin else []
                # --gil: sample the thread holding the GIL (Python CPU time, idle threads excluded);
                # --nonblocking: never pause the server, so the load is not distorted.
                common = ["--pid", str(server.pid), "--gil", "--rate", "100", "--threads"]
                # C frames too (uvloop, greenlet, drivers); py-spy must then pause the process to sample.
                common.append("--native" if args.profile_native else "--nonblocking")
                _log(f"{backend}: py-spy record for {seconds} s")
                subprocess.run(
                    [
                        *spy,
                        str(py_spy),
                        "record",
                        *common,
                        "--duration",
                        str(seconds),
                        "--format",
                        "raw",
                        "-o",
                        str(raw),
                    ],
                    check=True,
                    capture_output=True,
                )
                result = finish_wrk(harness.processes, wrk_process, load)
                summary = summarize_stacks(raw.read_text(encoding="utf-8"))
                (output / f"profile-{backend}.md").write_text(
                    _markdown(backend, result.as_dict(), summary), encoding="utf-8"
                )
                # The flame graph from a second, shorter recording (py-spy writes one format per run).
                load = Load(f"{server.base_url}/users/me", 64, 7, "get.lua", (token,))
                wrk_process = start_wrk(harness.processes, wrk, load, harness.pin)
                time.sleep(1)
                svg = output / f"profile-{backend}.svg"
                subprocess.run(
                    [*spy, str(py_spy), "record", *common, "--duration", "5", "--format", "flamegraph", "-o", str(svg)],
                    check=True,
                    capture_output=True,
                )
                finish_wrk(harness.processes, wrk_process, load)
                server.stop()
                print((output / f"profile-{backend}.md").read_text(encoding="utf-8"))
        finally:
            harness.processes.stop_all()
            databases.cleanup()
    return 0
