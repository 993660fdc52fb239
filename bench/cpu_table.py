"""The CPU-per-request table: both libraries in process, pinned, alternated, medians of the rounds.

For one database, a :mod:`bench.cpu_worker` process per library (its own environment, the
benchmark's app, pinned to the server's CPU) measures every key in batches of ``requests``
sequential requests; rounds alternate the libraries (FU then userkit, then userkit then FU...) so
drift of a shared machine falls on both alike. The median of the rounds is reported per key and
library. In-process CPU time is what issue 23 gates the read path on: it does not move with the
machine's load the way wrk's throughput does.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from bench.envs import REPO_DIR, Env
from bench.servers import CPU_SERVER, ProcessSet

__all__ = ["CpuWorker", "measure_cpu_table"]

LIBRARIES = ("fastapi-users", "fastapi-userkit")


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class CpuWorker:
    """One :mod:`bench.cpu_worker` process, driven over its stdin and stdout."""

    def __init__(
        self,
        library: str,
        env: Env,
        app_dir: Path,
        module: str,
        variables: dict[str, str],
        processes: ProcessSet,
        log: Path,
        *,
        pin: bool,
        valgrind: bool = False,
    ) -> None:
        argv = [str(env.python), "-m", "bench.cpu_worker", library, str(app_dir), module]
        if valgrind:
            argv = [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={log.parent}/callgrind.out.%p",
                *argv,
            ]
        if pin:
            argv = ["taskset", "-c", str(CPU_SERVER), *argv]
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        environment.update(variables, PYTHONPATH=str(REPO_DIR), PYTHONUNBUFFERED="1")
        self.library = library
        self.log = log
        self.processes = processes
        with log.open("ab") as err:
            self.process = processes.start(
                argv, env=environment, cwd=log.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
            )

    def _ask(self, command: str) -> dict[str, Any]:
        stdin = self.process.stdin
        stdout = self.process.stdout
        assert stdin is not None  # noqa: S101 - a pipe
        assert stdout is not None  # noqa: S101 - a pipe
        stdin.write(f"{command}\n".encode())
        stdin.flush()
        line = stdout.readline()
        if not line:
            tail = self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            raise RuntimeError(f"{self.library} CPU worker ended at '{command}':\n" + "\n".join(tail))
        answer: dict[str, Any] = json.loads(line)
        return answer

    def keys(self) -> tuple[list[str], dict[str, int]]:
        """The keys answering 200, and every key's status."""
        answer = self._ask("keys")
        return list(answer["keys"]), dict(answer["status"])

    def measure(self, key: str, requests: int) -> float:
        """CPU milliseconds per request of ``requests`` requests of ``key``."""
        return float(self._ask(f"measure {key} {requests}")["ms"])

    def instructions(self, key: str, requests: int) -> float:
        """Instructions per request (the worker runs under callgrind)."""
        return float(self._ask(f"callgrind {key} {requests}")["ir"])

    def stop(self) -> None:
        """Ask it to quit (closing the lifespan), then make sure it has ended."""
        stdin: IO[bytes] | None = self.process.stdin
        try:
            if stdin is not None and self.process.poll() is None:
                stdin.write(b"quit\n")
                stdin.close()
            self.process.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        ProcessSet.stop(self.process)
        self.processes.forget(self.process)


def measure_cpu_table(
    envs: dict[str, Env],
    app_dir: Path,
    modules: dict[str, str],
    variables: dict[str, dict[str, str]],
    processes: ProcessSet,
    workdir: Path,
    *,
    rounds: int,
    requests: int,
    pin: bool,
    label: str,
) -> dict[str, Any]:
    """Run the table for one database; ``{"keys": {key: {library: {"median", "runs"}}}, "status": ...}``.

    ``variables`` holds each library's ``BENCH_*`` environment (database, secret, seeding).
    """
    workers = {
        library: CpuWorker(
            library,
            envs[library],
            app_dir,
            modules[library],
            variables[library],
            processes,
            workdir / f"cpu-{label}-{library}.log",
            pin=pin,
        )
        for library in LIBRARIES
    }
    try:
        keys: dict[str, list[str]] = {}
        status: dict[str, dict[str, int]] = {}
        for library, worker in workers.items():
            keys[library], status[library] = worker.keys()
            for key in keys[library]:
                worker.measure(key, max(requests // 4, 50))  # warm-up: caches, statement plans, pools
        runs: dict[str, dict[str, list[float]]] = {key: {} for library in LIBRARIES for key in keys[library]}
        for round_ in range(rounds):
            for library in LIBRARIES if round_ % 2 == 0 else LIBRARIES[::-1]:
                for key in keys[library]:
                    runs[key].setdefault(library, []).append(round(workers[library].measure(key, requests), 4))
        _log(f"{label}: CPU per request, {rounds} rounds of {requests} requests")
        table = {
            key: {
                library: {"median": round(statistics.median(values), 4), "runs": values}
                for library, values in by_library.items()
            }
            for key, by_library in runs.items()
        }
        return {"rounds": rounds, "requests": requests, "pinned": pin, "keys": table, "status": status}
    finally:
        for worker in workers.values():
            worker.stop()
