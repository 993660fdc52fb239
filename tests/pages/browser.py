"""Harness of the browser tests: the demo under uvicorn, an attacker site, Chromium, the console mailbox."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Error, Playwright

from tests.pages.support import mailed_links, printed_mails

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; fails (under USERKIT_REQUIRE_SERVICES=1) or skips when it cannot start."""
    problem = None if Path(CHROMIUM).exists() else f"{CHROMIUM} is missing (apt-get install chromium)"
    if problem is None:
        try:
            return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        except Error as exc:
            problem = str(exc)
    message = f"Chromium cannot be launched: {problem}"
    if os.environ.get("USERKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and USERKIT_REQUIRE_SERVICES=1")
    pytest.skip(message)


@dataclass
class Demo:
    """The demo app under uvicorn, and where its console output (the mailer's) goes."""

    base_url: str
    log_path: Path

    def link(self, to: str, path: str, *, timeout: float = 15.0) -> str:
        """The latest link to ``path`` in the e-mails to ``to``, waiting for one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = mailed_links(printed_mails(self.log_path.read_text(errors="replace")), to, self.base_url + path)
            if links:
                return links[-1]
            time.sleep(0.1)
        raise AssertionError(f"no {path} link for {to} in {self.log_path.read_text()[-3000:]}")


@contextmanager
def running_demo(tmp_path: Path) -> Iterator[Demo]:
    """Start ``uvicorn demo.app:app`` on a free port with a fresh SQLite file."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "demo.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "USERKIT_DEMO_BASE_URL": base_url,
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [sys.executable, "-m", "uvicorn", "demo.app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(200):
                if process.poll() is not None:
                    break
                try:
                    httpx.get(f"{base_url}/account/sign-in", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert process.poll() is None, log_path.read_text()
            yield Demo(base_url, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - uvicorn ignoring SIGTERM
                process.kill()
                process.wait()


@contextmanager
def attacker_site(target: str, fields: dict[str, str]) -> Iterator[str]:
    """Serve, on another site (``localhost`` vs ``127.0.0.1``), a page that auto-submits a form to ``target``."""
    inputs = "".join(f'<input type="hidden" name="{name}" value="{value}">' for name, value in fields.items())
    page = (
        f'<!doctype html><html><body><h1>You won a prize!</h1><form method="post" action="{target}">{inputs}</form>'
        "<script>document.forms[0].submit()</script></body></html>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
