"""Two uvicorn processes on one PostgreSQL database and one Redis see each other's logins and logouts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_PREFIX, REDIS_URL, SessionMaker

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}")
        try:
            httpx.get(f"{base_url}/docs", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("worker did not start")


@pytest.fixture
def workers(
    request: pytest.FixtureRequest, http_db: SessionMaker, tmp_path: Path, redis_client: object
) -> Iterator[list[str]]:
    """Two uvicorn processes serving the same app; yields their base URLs (Redis keys cleaned by redis_client)."""
    kind: str = request.param
    url = str(http_db.kw["bind"].url.render_as_string(hide_password=False))
    env = {
        **os.environ,
        "USERKIT_E2E_DATABASE_URL": url,
        "USERKIT_E2E_STRATEGY": kind,
        "USERKIT_E2E_REDIS_URL": REDIS_URL,
        "USERKIT_E2E_REDIS_PREFIX": REDIS_PREFIX,
        "PYTHONPATH": str(ROOT),
    }
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    log = (tmp_path / "workers.log").open("wb")
    try:
        for _ in range(2):
            port = _free_port()
            command = [sys.executable, "-m", "uvicorn", "tests.strategies.worker_app:app", "--port", str(port)]
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            _wait_ready(urls[-1], process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
        log.close()


@pytest.mark.parametrize(
    ("http_backend", "workers"), [("postgresql", "database"), ("postgresql", "redis")], indirect=True
)
async def test_workers_share_logins_and_logouts(workers: list[str]) -> None:
    """A token issued by one worker works on the other, and a logout on either is seen by both."""
    first, second = workers
    async with httpx.AsyncClient(timeout=10) as client:
        await client.post(
            f"{first}/auth/register", json={"email": "pelleas@camelot.bt", "password": "lady of the lake"}
        )
        login = await client.post(
            f"{first}/auth/bearer/login", data={"username": "pelleas@camelot.bt", "password": "lady of the lake"}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        seen_by_second = await client.get(f"{second}/users/me", headers=headers)
        logout = await client.post(f"{second}/auth/bearer/logout", headers=headers)
        after_logout = await client.get(f"{first}/users/me", headers=headers)

    assert seen_by_second.status_code == 200
    assert logout.status_code == 204
    assert after_logout.status_code == 401
