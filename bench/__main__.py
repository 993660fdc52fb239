"""``python -m bench``: fastapi-userkit against FastAPI Users 15, side by side (see bench/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.apps import FASTAPI_USERS_APP, import_diff
from bench.envs import BENCH_DIR, Env, ensure_server_envs, ensure_tools_env, ensure_wrk
from bench.harness import LIBRARIES, Harness
from bench.report import add_ratios, gate_misses, markdown, targets
from bench.scenarios import PLANS, SCENARIOS, Plan
from bench.servers import pinning_available

KEY_PACKAGES = (
    "fastapi-users",
    "fastapi-users-db-sqlalchemy",
    "fastapi-userkit",
    "fastapi",
    "starlette",
    "pydantic",
    "pydantic-core",
    "sqlalchemy",
    "uvicorn",
    "uvloop",
    "httptools",
    "pwdlib",
    "argon2-cffi",
    "pyjwt",
    "asyncpg",
    "aiosqlite",
    "redis",
)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every scenario once, short runs (~2 minutes)")
    parser.add_argument(
        "--smoke", action="store_true", help="harness smoke test: SQLite, 1-2 s runs; exit 1 on any server error"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a gate target of issue 23 is missed")
    parser.add_argument("--profile", action="store_true", help="profile userkit's GET /users/me with py-spy instead")
    parser.add_argument("--backends", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--scenarios", help="comma-separated scenario ids: " + ",".join(s.id for s in SCENARIOS))
    parser.add_argument("--get-seconds", type=int)
    parser.add_argument("--get-repeats", type=int)
    parser.add_argument("--post-seconds", type=int)
    parser.add_argument("--post-repeats", type=int)
    parser.add_argument("--profile-seconds", type=int, default=15)
    parser.add_argument("--profile-native", action="store_true", help="with --profile: sample C frames too")
    parser.add_argument(
        "--callgrind",
        help="with --profile: instructions per request of these comma-separated keys (bench.cpu_worker), "
        "under valgrind's callgrind, instead of py-spy",
    )
    parser.add_argument("--callgrind-requests", type=int, default=300)
    parser.add_argument("--cpu-rounds", type=int, help="rounds of the in-process CPU table (0: skip it)")
    parser.add_argument("--cpu-requests", type=int, help="requests per round of the CPU table")
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument("--output", type=Path, help="result directory (default bench/results, or bench/results/smoke)")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    """The plan of the mode, with the command line's overrides."""
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    plan = PLANS[mode]
    if args.smoke and args.quick:
        plan = plan.with_overrides(mode="quick+smoke")
    return plan.with_overrides(
        backends=tuple(args.backends.split(",")) if args.backends else None,
        scenarios=tuple(args.scenarios.split(",")) if args.scenarios else None,
        get_seconds=args.get_seconds,
        get_repeats=args.get_repeats,
        post_seconds=args.post_seconds,
        post_repeats=args.post_repeats,
        chart=False if args.no_chart else None,
        cpu_rounds=args.cpu_rounds,
        cpu_requests=args.cpu_requests,
    )


def machine() -> dict[str, Any]:
    """What the run ran on."""
    cpu = "unknown"
    with Path("/proc/cpuinfo").open(encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def wrk_version(wrk: str) -> str:
    """``wrk -v``'s first line."""
    output = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    return (output.stdout or output.stderr).splitlines()[0].strip()


def versions(envs: dict[str, Env]) -> dict[str, dict[str, str]]:
    """The key packages of each server environment."""
    found = {}
    for library, env in envs.items():
        frozen = env.freeze()
        found[library] = {name: frozen[name] for name in KEY_PACKAGES if name in frozen}
    return found


def write_outputs(document: dict[str, Any], output: Path, chart: bool) -> str:
    """Write latest.json, latest.md and (if asked) ratios.png; return the markdown."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "latest.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    text = markdown(document)
    (output / "latest.md").write_text(text, encoding="utf-8")
    if chart:
        try:
            tools = ensure_tools_env()
            subprocess.run(
                [
                    str(tools.python),
                    str(BENCH_DIR / "chart.py"),
                    str(output / "latest.json"),
                    str(output / "ratios.png"),
                ],
                check=True,
                capture_output=True,
            )
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            _log(f"chart not drawn: {exc}")
    return text


def run_benchmark(args: argparse.Namespace) -> int:
    """Build, run, report; the exit status."""
    plan = make_plan(args)
    output: Path = args.output or (BENCH_DIR / "results" / ("smoke" if args.smoke else ""))
    started = time.monotonic()
    load_at_start = list(os.getloadavg())
    envs = ensure_server_envs()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="userkit-bench-") as workdir:
        harness = Harness(plan, envs, wrk, Path(workdir))
        if not harness.pin:
            _log("CPUs 0 and 1 are not both available: running without pinning")
        try:
            results = harness.run()
        except RuntimeError as exc:
            _log(f"FAILED: {exc}")
            return 1
    add_ratios(results)
    document: dict[str, Any] = {
        "meta": {
            "mode": plan.mode,
            "plan": asdict(plan),
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "load_average": {"start": load_at_start, "end": list(os.getloadavg())},
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "elapsed_seconds": round(time.monotonic() - started, 1),
            "machine": machine(),
            "pinned": pinning_available(),
            "wrk": wrk_version(wrk),
            "versions": versions(envs),
            "app_import_diff": import_diff(FASTAPI_USERS_APP.read_text(encoding="utf-8")),
            "libraries": list(LIBRARIES),
        },
        "results": results,
        "skipped": harness.skipped,
        "failures": harness.failures,
    }
    document["targets"] = targets(results)
    document["meta"]["elapsed_seconds"] = round(time.monotonic() - started, 1)
    print(write_outputs(document, output, plan.chart))
    _log(f"results in {output} ({document['meta']['elapsed_seconds']:.0f} s)")
    if harness.failures:
        _log("FAILED: " + "; ".join(harness.failures))
        return 1
    if args.check:
        missed = gate_misses(document["targets"])
        for check in missed:
            _log(f"gate missed: {check['target']} ({check['backend']}): {check['value']}, goal {check['goal']}")
        if missed:
            return 1
        _log("every gate target measured is met")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    # SIGTERM becomes SystemExit, so the ``finally`` blocks stop every server and drop the databases.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    if not shutil.which("taskset"):
        _log("taskset (util-linux) is needed")
        return 2
    if args.profile:
        from bench.profile import run_profile

        return run_profile(args)
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
