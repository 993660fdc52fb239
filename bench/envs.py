"""The benchmark's virtual environments, and the ``wrk`` load generator.

Three environments under ``bench/.venvs/`` (git-ignored), built once and rebuilt when their inputs
change:

* ``fastapi-users``: FastAPI Users 15.0.5 and fastapi-users-db-sqlalchemy 7.0.0;
* ``fastapi-userkit``: this repository, installed editable with the ``postgres``, ``redis`` and
  ``mfa`` extras, constrained to the exact versions frozen in the FastAPI Users environment, so every
  shared package (FastAPI, Starlette, Pydantic, SQLAlchemy, uvicorn, uvloop, httptools, pwdlib,
  argon2-cffi, PyJWT, drivers...) is the same build on both sides;
* ``tools``: matplotlib for the chart and py-spy for profiles, kept out of the server environments.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BENCH_DIR",
    "REPO_DIR",
    "VENVS_DIR",
    "Env",
    "ensure_fastapi_users_env",
    "ensure_server_envs",
    "ensure_tools_env",
    "ensure_wrk",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"
COMMON_REQUIREMENTS = BENCH_DIR / "requirements-common.txt"
FASTAPI_USERS_PINS = ("fastapi-users==15.0.5", "fastapi-users-db-sqlalchemy==7.0.0")
TOOLS_PINS = ("matplotlib==3.11.2", "py-spy==0.4.3")
_STAMP = ".bench-stamp"
# The userkit environment's extras: drivers, and two-factor for the second-factor user's /users/me.
USERKIT_EXTRAS = "postgres,redis,mfa"
# Packages only one side has; everything else frozen in the FastAPI Users env constrains the other.
_NOT_SHARED = {"fastapi-users", "fastapi-users-db-sqlalchemy", "makefun", "fastapi-userkit"}


@dataclass(frozen=True)
class Env:
    """A built virtual environment."""

    name: str
    path: Path

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.path / "bin" / "python"

    def freeze(self) -> dict[str, str]:
        """``{distribution: version}`` of everything installed."""
        out = subprocess.run(
            [str(self.python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        versions = {}
        for line in out.splitlines():
            name, sep, version = line.partition("==")
            if sep:
                versions[name.lower().replace("_", "-")] = version
        return versions


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _pip(env: Env, args: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        result = subprocess.run(
            [str(env.python), "-m", "pip", "install", "--disable-pip-version-check", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"pip install failed for {env.name}; see {log}")


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Hold ``bench/.venvs/.lock``, so two runs never build the same environment at once."""
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    with (VENVS_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(name: str, stamp: str, install: list[list[str]]) -> Env:
    with _locked():
        return _build_locked(name, stamp, install)


def _build_locked(name: str, stamp: str, install: list[list[str]]) -> Env:
    env = Env(name, VENVS_DIR / name)
    stamp_file = env.path / _STAMP
    if stamp_file.exists() and stamp_file.read_text(encoding="utf-8") == stamp and env.python.exists():
        return env
    _log(f"building {env.path.relative_to(REPO_DIR)} (once; later runs reuse it)")
    if env.path.exists():
        shutil.rmtree(env.path)
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    # ``-m venv`` from a venv's interpreter builds on the base interpreter: same Python on both sides.
    subprocess.run([sys.executable, "-m", "venv", str(env.path)], check=True)
    log = VENVS_DIR / f"{name}.pip.log"
    log.write_text("", encoding="utf-8")
    for args in install:
        _pip(env, args, log)
    stamp_file.write_text(stamp, encoding="utf-8")
    return env


def ensure_fastapi_users_env(*extra: str) -> Env:
    """Build (or reuse) the FastAPI Users 15.0.5 environment (also used by tests/migration).

    ``extra`` requirements (a MariaDB driver for the migration tests) make an environment of
    their own beside it, so the benchmark's stays as it is.
    """
    common = COMMON_REQUIREMENTS.read_text(encoding="utf-8")
    name = "fastapi-users" if not extra else f"fastapi-users-{_digest(*extra)[:8]}"
    return _build(
        name,
        _digest(common, *FASTAPI_USERS_PINS, *extra),
        [["-r", str(COMMON_REQUIREMENTS), *FASTAPI_USERS_PINS, *extra]],
    )


def ensure_server_envs() -> dict[str, Env]:
    """Build (or reuse) the two server environments; return them by library name."""
    common = COMMON_REQUIREMENTS.read_text(encoding="utf-8")
    fastapi_users = ensure_fastapi_users_env()
    frozen = fastapi_users.freeze()
    constraints = "".join(f"{name}=={version}\n" for name, version in sorted(frozen.items()) if name not in _NOT_SHARED)
    constraints_file = VENVS_DIR / "shared-constraints.txt"
    constraints_file.write_text(constraints, encoding="utf-8")
    pyproject = (REPO_DIR / "pyproject.toml").read_text(encoding="utf-8")
    requirement = f"{REPO_DIR}[{USERKIT_EXTRAS}]"
    userkit = _build(
        "fastapi-userkit",
        _digest(common, constraints, pyproject, requirement),
        [["-c", str(constraints_file), "-r", str(COMMON_REQUIREMENTS), "-e", requirement]],
    )
    return {"fastapi-users": fastapi_users, "fastapi-userkit": userkit}


def ensure_tools_env() -> Env:
    """Build (or reuse) the environment with matplotlib and py-spy."""
    return _build("tools", _digest(*TOOLS_PINS), [list(TOOLS_PINS)])


def ensure_wrk() -> str:
    """Return the path of ``wrk``, installing Debian's package if it is missing.

    Raises:
        RuntimeError: ``wrk`` is missing and could not be installed.
    """
    found = shutil.which("wrk")
    if found:
        return found
    _log("installing wrk with apt-get")
    log = Path(tempfile.gettempdir()) / "bench-wrk-apt.log"
    with log.open("w", encoding="utf-8") as out:
        attempt = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(attempt, stdout=out, stderr=subprocess.STDOUT, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], stdout=out, stderr=subprocess.STDOUT, check=False)
            subprocess.run(attempt, stdout=out, stderr=subprocess.STDOUT, check=False)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError(f"wrk is not installed and apt-get could not install it; see {log}")
    return found
