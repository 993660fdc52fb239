"""Running ``wrk`` pinned to CPU 1 and reading its report.

``--latency`` makes wrk print its latency distribution; the harness takes p50 and p99 from it,
``Requests/sec``, ``Non-2xx or 3xx responses``, the socket errors, and the per-status counts that
the Lua scripts in ``bench/lua`` print (``STATUS <code> <count>``).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.servers import CPU_CLIENT, ProcessSet

__all__ = ["LUA_DIR", "Load", "WrkResult", "finish_wrk", "parse_wrk", "run_wrk", "start_wrk"]

LUA_DIR = Path(__file__).resolve().parent / "lua"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)


@dataclass
class WrkResult:
    """What one wrk run measured."""

    rps: float = 0.0
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    non_2xx: int = 0
    socket_errors: int = 0
    timeouts: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    sent: int = 0

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(count for code, count in self.statuses.items() if code.startswith("5"))

    @property
    def errors(self) -> int:
        """Responses that were not 2xx/3xx, plus socket errors (timeouts included)."""
        return self.non_2xx + self.socket_errors

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with the derived counts."""
        return {**asdict(self), "server_errors": self.server_errors, "errors": self.errors}


def parse_wrk(output: str) -> WrkResult:
    """Read wrk's text report (run with ``--latency``)."""
    result = WrkResult()
    for percentile, value, unit in _PERCENTILE.findall(output):
        milliseconds = float(value) * _UNITS[unit]
        if percentile == "50":
            result.p50_ms = milliseconds
        elif percentile == "99":
            result.p99_ms = milliseconds
    if match := re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output):
        result.requests = int(match.group(1))
        result.seconds = float(match.group(2)) * _UNITS[match.group(3)] / 1000
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result.rps = float(match.group(1))
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        result.non_2xx = int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        counts = [int(group) for group in match.groups()]
        result.socket_errors = sum(counts)
        result.timeouts = counts[3]
    if match := re.search(r"^SENT (\d+)$", output, re.MULTILINE):
        result.sent = int(match.group(1))
    result.statuses = {code: int(count) for code, count in re.findall(r"^STATUS (\d+) (\d+)$", output, re.MULTILINE)}
    return result


@dataclass(frozen=True)
class Load:
    """One wrk invocation: URL, connections, seconds, Lua script and its arguments."""

    url: str
    connections: int
    seconds: int
    script: str
    args: tuple[str, ...] = ()
    timeout_s: int = 30

    def argv(self, wrk: str, pin: bool) -> list[str]:
        """The command line."""
        argv = [
            wrk,
            "-t1",
            f"-c{self.connections}",
            f"-d{self.seconds}s",
            f"--timeout={self.timeout_s}s",
            "--latency",
            "-s",
            str(LUA_DIR / self.script),
            self.url,
        ]
        if self.args:
            argv += ["--", *self.args]
        return ["taskset", "-c", str(CPU_CLIENT), *argv] if pin else argv


def start_wrk(processes: ProcessSet, wrk: str, load: Load, pin: bool) -> subprocess.Popen[bytes]:
    """Start wrk in the background (its report is read with :func:`finish_wrk`)."""
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA_DIR)}
    return processes.start(load.argv(wrk, pin), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish_wrk(processes: ProcessSet, process: subprocess.Popen[bytes], load: Load) -> WrkResult:
    """Wait for a wrk started by :func:`start_wrk` and parse its report.

    Raises:
        RuntimeError: wrk failed or did not stop in time.
    """
    try:
        output, _ = process.communicate(timeout=load.seconds + load.timeout_s + 15)
    except subprocess.TimeoutExpired:
        ProcessSet.stop(process, grace=1)
        raise RuntimeError(f"wrk did not stop: {load.url}") from None
    finally:
        if process.poll() is not None:
            processes.forget(process)
    text = output.decode(errors="replace")
    if process.returncode != 0 or "requests in" not in text:
        raise RuntimeError(f"wrk failed on {load.url} (exit {process.returncode}):\n{text}")
    return parse_wrk(text)


def run_wrk(processes: ProcessSet, wrk: str, load: Load, pin: bool) -> WrkResult:
    """Run wrk in the foreground and parse its report."""
    return finish_wrk(processes, start_wrk(processes, wrk, load, pin), load)
