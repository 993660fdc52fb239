"""A throwaway Redis Cluster of three local nodes (issue 22, item 2), stopped by PID.

Each node is a ``redis-server --cluster-enabled yes`` on a free loopback port (and a free cluster
bus port) in a temporary folder; ``redis-cli --cluster create`` assigns the 16384 slots.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import missing
from tests.scale.processes import free_port, wait_until

NODES = 3


def _cli(port: int, *args: str) -> str:
    command = ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    return result.stdout


@contextmanager
def redis_cluster(folder: Path) -> Iterator[list[int]]:
    """Start a three-node cluster in ``folder``; yield the nodes' ports; stop the nodes at the end."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        missing("redis-server and redis-cli are needed for the Redis Cluster tests")
    ports = [free_port() for _ in range(NODES)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            node = folder / f"node-{port}"
            node.mkdir()
            command = [
                "redis-server",
                "--port", str(port),
                "--cluster-port", str(free_port()),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node / "nodes.conf"),
                "--dir", str(node),
                "--save", "",
                "--appendonly", "no",
            ]  # fmt: skip
            with (node / "server.log").open("wb") as log:
                processes.append(subprocess.Popen(command, stdout=log, stderr=log))  # noqa: S603
        for port in ports:
            wait_until(lambda port=port: _cli(port, "PING").strip() == "PONG", f"redis node {port}")  # type: ignore[misc]
        nodes = [f"127.0.0.1:{port}" for port in ports]
        created = subprocess.run(  # noqa: S603
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        for port in ports:
            wait_until(lambda port=port: "cluster_state:ok" in _cli(port, "CLUSTER", "INFO"), "cluster_state:ok")  # type: ignore[misc]
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
