"""Start and stop real server processes for the scale tests: uvicorn workers on free loopback ports.

Every process is started by these helpers and stopped by its own PID (never by name), so the
shared services of the machine are never touched.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0  # three workers import the app at once on a busy 2-core CI machine
_addresses = itertools.count(1)


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_address() -> dict[str, str]:
    """Headers giving the next request a client address of its own (the apps trust one proxy).

    Each test takes a fresh address, so per-IP budgets spent by one test never limit another
    that runs on the same workers.
    """
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.22.{n // 250}.{n % 250 + 1}"}


def wait_until(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    """Poll ``check`` every 50 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Workers:
    """Uvicorn processes serving one app on separate ports; requests are spread round-robin."""

    app: str
    env: Mapping[str, str]
    log: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def start(self, count: int) -> None:
        """Start ``count`` workers and wait until every one answers."""
        for _ in range(count):
            self.urls.append("")
            self.processes.append(self._spawn(len(self.urls) - 1, free_port()))
        for index in range(count):
            self._wait_ready(index)

    def _spawn(self, index: int, port: int) -> subprocess.Popen[bytes]:
        self.urls[index] = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "uvicorn", self.app, "--port", str(port), "--no-access-log"]
        with self.log.open("ab") as log:
            return subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, cwd=ROOT, env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log
            )

    def _wait_ready(self, index: int) -> None:
        process, url = self.processes[index], self.urls[index]

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"worker exited with {process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
            except httpx.TransportError:
                return False
            return True

        wait_until(ready, f"worker {url}")

    def url(self, n: int) -> str:
        """The base URL of the worker that serves request number ``n``."""
        return self.urls[n % len(self.urls)]

    def signal(self, index: int, signum: signal.Signals) -> int:
        """Send ``signum`` to worker ``index`` and wait for it to exit; its exit code."""
        process = self.processes[index]
        process.send_signal(signum)
        return process.wait(timeout=30)

    def restart(self, index: int) -> None:
        """Start worker ``index`` again (after it stopped), on a new port."""
        self.processes[index] = self._spawn(index, free_port())
        self._wait_ready(index)

    def stop(self) -> None:
        """Stop every worker by its PID (SIGTERM, then SIGKILL after 10 s)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
