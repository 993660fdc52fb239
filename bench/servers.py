"""Starting, pinning, measuring and stopping the uvicorn servers (and the databases they use).

Every process is started in its own process group and registered in a :class:`ProcessSet`; the
harness stops the whole set in a ``finally`` block, so an error or Ctrl-C leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CPU_CLIENT",
    "CPU_SERVER",
    "Databases",
    "ProcessSet",
    "Server",
    "free_port",
    "http_request",
    "pinning_available",
]

CPU_SERVER = 0
CPU_CLIENT = 1
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def pinning_available() -> bool:
    """Whether CPUs 0 and 1 are both ours (server on one core, load generator on the other)."""
    return {CPU_SERVER, CPU_CLIENT} <= os.sched_getaffinity(0)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reachable(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_request(
    url: str,
    *,
    form: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """A small HTTP client for set-up requests: ``(status, decoded JSON or None)``."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data)  # noqa: S310 - always http://127.0.0.1
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local server
            body = response.read()
            status: int = response.status
    except urllib.error.HTTPError as exc:
        body = exc.read()
        status = exc.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


@dataclass
class ProcessSet:
    """Every process the harness started; :meth:`stop_all` ends them (and their children)."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``args`` in a new process group and remember it."""
        process = subprocess.Popen(args, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    @staticmethod
    def stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it is still there after ``grace`` seconds."""
        # Only a leader not yet reaped is signalled: a reaped one's group id may belong to
        # someone else by now.
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def forget(self, process: subprocess.Popen[bytes]) -> None:
        """Drop a process that has ended from the set."""
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        """Stop every process started, newest first."""
        while self.processes:
            self.stop(self.processes.pop())


@dataclass
class Server:
    """One uvicorn worker (uvloop + httptools) serving one library's app."""

    library: str
    python: Path
    app_dir: Path
    module: str
    env: dict[str, str]
    log: Path
    processes: ProcessSet
    cpus: tuple[int, ...] | None = (CPU_SERVER,)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The uvicorn process id."""
        assert self.process is not None  # noqa: S101 - started before use
        return self.process.pid

    def start(self, timeout: float = 60.0) -> None:
        """Start the server pinned to ``cpus`` (``None``: not pinned) and wait until it answers.

        Raises:
            RuntimeError: It exited or did not answer within ``timeout`` seconds.
        """
        self.port = free_port()
        argv = [
            str(self.python),
            "-m",
            "uvicorn",
            f"{self.module}:app",
            "--app-dir",
            str(self.app_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        if self.cpus is not None:
            argv = ["taskset", "-c", ",".join(map(str, self.cpus)), *argv]
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env.update(self.env, PYTHONUNBUFFERED="1")
        with self.log.open("ab") as log:
            self.process = self.processes.start(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.library} server exited at start-up:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if http_request(f"{self.base_url}/bench/bare", timeout=2)[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.library} server did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def _status_kib(self, field_name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
        return 0

    def peak_rss_mb(self) -> float:
        """The peak resident set size so far (``VmHWM``), in MB."""
        return self._status_kib("VmHWM") / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, timeout: float = 60.0, window: float = 0.3) -> float:
        """Wait until the server uses under 5 % of a core; return the seconds waited.

        After a load run the server may still be working on requests whose clients left (hashes
        queued behind the event loop or in threads); the next measurement must not pay for them.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout and self.alive():
            before = self.cpu_seconds()
            time.sleep(window)
            if self.cpu_seconds() - before < 0.05 * window:
                break
        return time.monotonic() - started

    def login(self, path: str, username: str, password: str) -> str:
        """Log in through ``path`` and return the access token.

        Raises:
            RuntimeError: The login did not answer 200 with a token.
        """
        status, body = http_request(f"{self.base_url}{path}", form={"username": username, "password": password})
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise RuntimeError(f"{self.library}: login at {path} answered {status} {body}\n{self.log_tail()}")
        return str(body["access_token"])

    def register(self, email: str, password: str) -> int:
        """Register one user through ``POST /auth/register``; return the status."""
        return http_request(f"{self.base_url}/auth/register", body={"email": email, "password": password}, timeout=60)[
            0
        ]

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None:
            ProcessSet.stop(self.process)
            self.processes.forget(self.process)


@dataclass
class Databases:
    """The run's databases: SQLite files in ``workdir``, PostgreSQL databases ``bench_<pid>_*``, a Redis prefix."""

    workdir: Path
    run_id: str = field(default_factory=lambda: f"bench_{os.getpid()}")
    postgres: list[str] = field(default_factory=list)

    @staticmethod
    def postgres_available() -> bool:
        """Whether PostgreSQL listens on 127.0.0.1:5432."""
        return reachable(5432)

    @staticmethod
    def redis_available() -> bool:
        """Whether Redis listens on 127.0.0.1:6379."""
        return reachable(6379)

    def redis_prefix(self, library: str) -> str:
        """The Redis key prefix of ``library``'s tokens in this run."""
        return f"{self.run_id}:{library}:"

    def url(self, backend: str, library: str) -> str:
        """A fresh database for ``library`` on ``backend`` (created now for PostgreSQL)."""
        slug = library.replace("-", "_")
        if backend == "sqlite":
            path = self.workdir / f"{slug}.db"
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return f"sqlite+aiosqlite:///{path}"
        name = f"{self.run_id}_{slug}"
        asyncio.run(self._postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"))
        self.postgres.append(name)
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"

    def cleanup(self) -> None:
        """Drop the PostgreSQL databases, delete the Redis keys and the SQLite files."""
        if self.postgres:
            statements = [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)" for name in self.postgres]
            with contextlib.suppress(Exception):
                asyncio.run(self._postgres_admin(*statements))
            self.postgres.clear()
        if self.redis_available():
            with contextlib.suppress(Exception):
                asyncio.run(self._redis_cleanup())
        for path in self.workdir.glob("*.db*"):
            path.unlink(missing_ok=True)

    @staticmethod
    async def _postgres_admin(*statements: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    async def _redis_cleanup(self) -> None:
        import redis.asyncio

        client = redis.asyncio.from_url(REDIS_URL)
        try:
            keys = [key async for key in client.scan_iter(match=f"{self.run_id}:*", count=1000)]
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start : start + 1000])
        finally:
            await client.aclose()
