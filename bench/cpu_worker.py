"""In-process CPU per request of the benchmark's app: one worker process per library and database.

Run by the harness (:mod:`bench.cpu_table`) with a library's own environment and pinned to one
CPU, it imports the benchmark's app (``bench/apps/fastapi_users_app.py``, or its userkit twin
written by :func:`bench.apps.write_apps`), runs its lifespan (tables, seeded users), logs in
through each backend, then answers commands on stdin, one per line, with one JSON line each:

* ``keys``: the measurable keys (below) and the app's status for each;
* ``measure KEY N``: ``{"key", "ms"}``, the process CPU time (``time.process_time``: every thread,
  so aiosqlite's too) of ``N`` sequential requests through the ASGI app, in ms per request;
* ``callgrind KEY N``: the same requests with valgrind's callgrind counting instructions (the
  worker runs under ``valgrind --tool=callgrind --collect-atstart=no``): ``{"key", "ir"}``,
  instructions per request, stable on a busy machine where CPU time is not;
* ``quit``.

``BENCH_FAST_PATHS=0`` turns :func:`fastapi_userkit.db.set_fast_paths` off; ``BENCH_SESSION_READ=orm``
makes the session store take its ORM query on every check (the cost before the driver-level read).

Keys (a missing one is not measurable in this environment):

``bare`` (a constant), ``chain`` (the app's own session, user-database and manager dependencies),
``ceiling`` (JWT decode + raw indexed select), ``chain_ceiling`` (both: the same-chain ceiling),
``me_jwt``, ``me_database``, ``me_redis`` (``GET /users/me`` through each documented backend), and
for fastapi-userkit only ``me_sessions`` (a JWT backend with refresh on: the session is checked on
every request) and ``me_mfa`` (a user with a confirmed TOTP factor, signed in with the code: a
level-2 token, on an app with ``FastAPIUsers(mfa=...)``), each on a twin of the app with the same
routes in the same order (:func:`add_userkit_extras`).

    taskset -c 0 bench/.venvs/fastapi-userkit/bin/python -m bench.cpu_worker fastapi-userkit DIR userkit_app

with the ``BENCH_*`` environment of the servers (``bench.harness``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any

PASSWORD_ENV = "BENCH_PASSWORD"
MFA_SECRET = "bench-mfa-secret-0123456789abcdef0123456789abcdef"

# key -> (app, path, backend whose token it sends, or None)
KEYS: dict[str, tuple[str, str, str | None]] = {
    "bare": ("main", "/bench/bare", None),
    "chain": ("main", "/bench/chain", None),
    "ceiling": ("main", "/bench/ceiling", "jwt"),
    "chain_ceiling": ("main", "/bench/chain-ceiling", "jwt"),
    "me_jwt": ("main", "/users/me", "jwt"),
    "me_database": ("main", "/database/users/me", "database"),
    "me_redis": ("main", "/redis/users/me", "redis"),
    "me_sessions": ("sessions", "/users/me", "sessions"),
    "me_mfa": ("mfa", "/users/me", "mfa"),
}


def _scope(path: str, token: str | None) -> dict[str, Any]:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }


async def request(app: Any, path: str, token: str | None) -> int:
    """One ``GET`` through the ASGI app; its status."""
    status: dict[str, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]

    await app(_scope(path, token), receive, send)
    return status["code"]


def _twin_app(module: Any, fastapi_users: Any, backend: Any, *more_users_routers: Any) -> Any:
    """The documented app's routes in its order, on ``backend``: so ``/users/me`` is matched after as many routes.

    The benchmark's own ``/bench`` routes first, then the auth router at ``/auth/<backend>``, the
    register, reset and verify routers, the users router (and ``more_users_routers``) at ``/users``.
    """
    from fastapi import FastAPI

    twin = FastAPI()
    twin.router.routes.extend(
        route for route in module.app.router.routes if getattr(route, "path", "").startswith("/bench")
    )
    twin.include_router(fastapi_users.get_auth_router(backend), prefix=f"/auth/{backend.name}", tags=["auth"])
    twin.include_router(fastapi_users.get_register_router(module.UserRead, module.UserCreate), prefix="/auth")
    twin.include_router(fastapi_users.get_reset_password_router(), prefix="/auth")
    twin.include_router(fastapi_users.get_verify_router(module.UserRead), prefix="/auth")
    twin.include_router(fastapi_users.get_users_router(module.UserRead, module.UserUpdate), prefix="/users")
    for router in more_users_routers:
        twin.include_router(router, prefix="/users")
    return twin


def add_userkit_extras(module: Any) -> dict[str, Any]:
    """The refresh-on and two-factor twins of fastapi-userkit's app: ``{"sessions": app, "mfa": app}``.

    Written as the README writes them (``Refresh tokens and sessions``, ``Two-factor login``),
    on the app's own ``Base`` (so its lifespan creates their tables), session maker, user manager
    and JWT strategy factory. Each is a separate app with the documented app's routes in the same
    order (:func:`_twin_app`), so its ``GET /users/me`` pays for as much route matching as the
    plain one: the difference measured is the feature's.
    """
    from fastapi import Depends
    from sqlalchemy.ext.asyncio import AsyncSession

    from fastapi_userkit import FastAPIUsers
    from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport
    from fastapi_userkit.db.sessions import (
        SQLAlchemyBaseRefreshTokenTable,
        SQLAlchemyBaseSessionTableUUID,
        SQLAlchemySessionStore,
    )
    from fastapi_userkit.sessions import RefreshSettings

    class UserSession(SQLAlchemyBaseSessionTableUUID, module.Base):  # type: ignore[misc]
        pass

    class RefreshToken(SQLAlchemyBaseRefreshTokenTable, module.Base):  # type: ignore[misc]
        pass

    refresh = RefreshSettings(
        store=SQLAlchemySessionStore(module.async_session_maker, UserSession, RefreshToken), secret=module.SECRET
    )
    sessions_backend = AuthenticationBackend(
        name="sessions",
        transport=BearerTransport(tokenUrl="auth/sessions/login"),
        get_strategy=module.get_jwt_strategy,
        refresh=refresh,
    )
    with_sessions = FastAPIUsers[Any, Any](module.get_user_manager, [sessions_backend])
    extras: dict[str, Any] = {"sessions": _twin_app(module, with_sessions, sessions_backend)}
    try:
        from fastapi_userkit.mfa import (
            MFA,
            SQLAlchemyBaseMFAChallengeTableUUID,
            SQLAlchemyBaseRecoveryCodeTableUUID,
            SQLAlchemyBaseTOTPTableUUID,
            SQLAlchemyChallengeStore,
            SQLAlchemyMFAStore,
        )
    except ImportError:  # the mfa extra is not installed
        return extras

    class TOTPFactor(SQLAlchemyBaseTOTPTableUUID, module.Base):  # type: ignore[misc]
        pass

    class RecoveryCode(SQLAlchemyBaseRecoveryCodeTableUUID, module.Base):  # type: ignore[misc]
        pass

    class MFAChallenge(SQLAlchemyBaseMFAChallengeTableUUID, module.Base):  # type: ignore[misc]
        pass

    async def get_mfa_store(session: AsyncSession = Depends(module.get_async_session)) -> Any:
        yield SQLAlchemyMFAStore(session, TOTPFactor, RecoveryCode)

    async def get_challenge_store(session: AsyncSession = Depends(module.get_async_session)) -> Any:
        yield SQLAlchemyChallengeStore(session, MFAChallenge)

    mfa = MFA(secrets=[MFA_SECRET], get_store=get_mfa_store, get_challenge_store=get_challenge_store, issuer="bench")
    mfa_backend = AuthenticationBackend(
        name="mfa", transport=BearerTransport(tokenUrl="auth/mfa/login"), get_strategy=module.get_jwt_strategy
    )
    with_mfa = FastAPIUsers[Any, Any](module.get_user_manager, [mfa_backend], mfa=mfa)
    extras["mfa"] = _twin_app(module, with_mfa, mfa_backend, with_mfa.get_mfa_router())
    return extras


async def _login(client: Any, backend: str, email: str, password: str) -> Any:
    return await client.post(f"/auth/{backend}/login", data={"username": email, "password": password})


async def _mfa_token(client: Any, password: str) -> str:
    """Register a user, enrol its TOTP factor through the app's routes, sign in with a code: its level-2 token."""
    import pyotp

    email = f"mfa-{uuid.uuid4().hex[:12]}@example.com"
    registered = await client.post("/auth/register", json={"email": email, "password": password})
    registered.raise_for_status()
    first = await _login(client, "mfa", email, password)
    first.raise_for_status()
    headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
    begun = await client.post("/users/me/mfa/totp", headers=headers)
    begun.raise_for_status()
    totp = pyotp.TOTP(begun.json()["secret"])
    confirmed = await client.post("/users/me/mfa/totp/confirm", json={"code": totp.now()}, headers=headers)
    confirmed.raise_for_status()
    challenge = await _login(client, "mfa", email, password)
    if challenge.status_code != 202:
        raise RuntimeError(f"login of a user with a factor answered {challenge.status_code}")
    # The confirmation used the current step's code: sign in with the next step's (the window allows it).
    code = totp.at(time.time() + 30)
    answer = await client.post(
        "/auth/mfa/mfa", json={"challenge_token": challenge.json()["challenge_token"], "code": code}
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


async def set_up(library: str, apps: dict[str, Any]) -> dict[str, str | None]:
    """Log in through every backend; return a token per backend (``None`` where none was had)."""
    import httpx

    password = os.environ[PASSWORD_ENV]
    tokens: dict[str, str | None] = {}
    logins = [("main", backend) for backend in ("jwt", "database", "redis")]
    if "sessions" in apps:
        logins.append(("sessions", "sessions"))
    for app_name, backend in logins:
        transport = httpx.ASGITransport(app=apps[app_name])
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            try:
                answer = await _login(client, backend, "user0@example.com", password)
            except Exception as exc:  # noqa: BLE001 - Redis unreachable: the key is skipped, and said
                print(f"[cpu-worker] {library}: no {backend} token: {exc!r}", file=sys.stderr, flush=True)
                tokens[backend] = None
                continue
            tokens[backend] = answer.json()["access_token"] if answer.status_code == 200 else None
    if "mfa" in apps:
        transport = httpx.ASGITransport(app=apps["mfa"])
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            tokens["mfa"] = await _mfa_token(client, password)
    return tokens


def _callgrind(*args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)


def _callgrind_total(dump_dir: Path, before: set[Path]) -> int:
    """The ``totals`` instruction count of the newest dump file not in ``before``."""
    new = sorted(set(dump_dir.glob(f"callgrind.out.{os.getpid()}*")) - before, key=lambda path: path.stat().st_mtime)
    for line in new[-1].read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {new[-1]}")


async def serve(apps: dict[str, Any], tokens: dict[str, str | None], out: IO[str]) -> None:
    """Answer the commands on stdin (see the module's docstring) on ``out``."""
    available = {
        key: (app_name, path, backend)
        for key, (app_name, path, backend) in KEYS.items()
        if app_name in apps and (backend is None or tokens.get(backend) is not None)
    }
    status = {
        key: await request(apps[app_name], path, backend and tokens[backend])
        for key, (app_name, path, backend) in available.items()
    }
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            return
        if line[0] == "keys":
            answering = sorted(key for key in available if status[key] == 200)
            out.write(json.dumps({"keys": answering, "status": status}) + "\n")
            continue
        command, key, count = line[0], line[1], int(line[2])
        app_name, path, backend = available[key]
        token = backend and tokens[backend]
        app = apps[app_name]
        if command == "callgrind":
            dump_dir = Path.cwd()
            before = set(dump_dir.glob(f"callgrind.out.{os.getpid()}*"))
            _callgrind("-z")
            _callgrind("-i", "on")
            for _ in range(count):
                await request(app, path, token)
            _callgrind("-i", "off")
            _callgrind("-d")
            out.write(json.dumps({"key": key, "ir": _callgrind_total(dump_dir, before) / count}) + "\n")
            continue
        started = time.process_time()
        for _ in range(count):
            await request(app, path, token)
        out.write(json.dumps({"key": key, "ms": (time.process_time() - started) / count * 1000}) + "\n")


async def main(library: str, app_dir: str, module_name: str) -> None:
    """Load the app, set it up, serve commands."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the app's own prints go to stderr, the answers alone to the saved stdout
    sys.path.insert(0, app_dir)
    module = importlib.import_module(module_name)
    apps = {"main": module.app, **(add_userkit_extras(module) if library == "fastapi-userkit" else {})}
    if os.environ.get("BENCH_FAST_PATHS") == "0":
        from fastapi_userkit.db import set_fast_paths

        set_fast_paths(False)
    if os.environ.get("BENCH_SESSION_READ") == "orm":  # A/B: the session store's ORM query on every check
        import fastapi_userkit.db.sessions as session_store
        from fastapi_userkit.db._row_reader import NOT_READ

        async def orm_only(*_args: object) -> object:
            return NOT_READ

        session_store.read_values_by_primary_key = orm_only  # type: ignore[assignment]
    async with module.app.router.lifespan_context(module.app):
        tokens = await set_up(library, apps)
        await serve(apps, tokens, out)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
