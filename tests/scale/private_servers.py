"""A private PostgreSQL and a private Redis that fault tests may stop and start (issue 22, item 3).

Both run on free loopback ports from temporary folders and are stopped through their own data
folder or PID, so the shared servers of the machine are never touched. ``initdb`` refuses to run
as root, so PostgreSQL runs as the ``postgres`` user when the tests run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import missing
from tests.scale.processes import free_port, wait_until


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        missing("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of a test's own; ``stop()`` and ``start()`` make an outage."""

    folder: Path
    port: int

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        command = _as_postgres(str(_postgres_bin() / "pg_ctl"), "-D", str(self.folder / "data"), *args)
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: as abruptly as a crash; ``fast``: clean)."""
        self._ctl("-m", mode, "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh PostgreSQL cluster (trust authentication) on a free port; removed at the end."""
    bin_dir = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="userkit-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PrivatePostgres(folder, free_port())
    command = _as_postgres(str(bin_dir / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres")
    subprocess.run([*command, "--no-sync"], check=True, capture_output=True, timeout=120)  # noqa: S603
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by the test
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A redis-server of a test's own, stopped by its PID."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server on its port and wait until it answers."""
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.folder),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        probe = ["redis-cli", "-p", str(self.port), "PING"]
        wait_until(
            lambda: subprocess.run(probe, capture_output=True, text=True, check=False).stdout.strip() == "PONG",  # noqa: S603
            "private redis",
        )

    def stop(self) -> None:
        """Kill the server (SIGKILL: an outage, not a shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server on a free port, without persistence; stopped at the end."""
    if shutil.which("redis-server") is None:
        missing("redis-server is needed for the Redis fault tests")
    server = PrivateRedis(Path(tempfile.mkdtemp(prefix="userkit-redis-")), free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)
