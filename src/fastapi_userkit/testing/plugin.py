"""The fixtures of ``pytest_plugins = ["fastapi_userkit.testing"]``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect

from fastapi_userkit import schemas
from fastapi_userkit.security.ratelimit import RedisRateLimitBackend, SQLRateLimitBackend
from fastapi_userkit.testing._app import UserkitTestApp, resolve_dependency
from fastapi_userkit.testing._clock import FrozenClock
from fastapi_userkit.testing._mfa import TOTPDevice, enrol_totp_device
from fastapi_userkit.testing._outbox import Outbox

__all__ = [
    "AuthClientFactory",
    "TOTPEnrol",
    "ThrottleReset",
    "UserFactory",
    "auth_client",
    "clock",
    "enrol_totp",
    "make_user",
    "outbox",
    "reset_throttling",
    "userkit_app",
    "userkit_passwords",
    "userkit_totp_devices",
]

DEFAULT_PASSWORD = "userkit-testing-password-42"  # noqa: S105 - a test fixture's password
UserFactory = Callable[..., Awaitable[Any]]
"""``await make_user(email=..., password=..., is_active=..., is_verified=..., is_superuser=..., **fields)``."""
ThrottleReset = Callable[[], Awaitable[None]]
"""``await reset_throttling()``: empty the rate-limit counters."""
AuthClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]
"""``await auth_client(user, backend=None, password=None)``: a client logged in as ``user``."""
TOTPEnrol = Callable[[Any], Awaitable[TOTPDevice]]
"""``await enrol_totp(user)``: the user's TOTP factor enrolled and confirmed; its device."""
_MFA_REQUIRED = "MFA_REQUIRED"  # the detail of a login's 202 challenge (fastapi_userkit.router.mfa)


@pytest.fixture
def userkit_app() -> UserkitTestApp:
    """Override this fixture in the app's ``conftest.py`` to return its :class:`UserkitTestApp`."""
    raise pytest.UsageError(
        "fastapi_userkit.testing: override the 'userkit_app' fixture in your conftest.py to return "
        "UserkitTestApp(app=..., fastapi_users=...)"
    )


@pytest.fixture
def clock() -> FrozenClock:
    """A :class:`FrozenClock` at the current time; inject it where the app builds its strategies."""
    return FrozenClock()


@pytest.fixture
def outbox(userkit_app: UserkitTestApp, monkeypatch: pytest.MonkeyPatch) -> Outbox:
    """Every e-mail the app's account mailer sends during the test, with links and tokens parsed.

    The account mailer's delivery backend is swapped for an in-memory one for the test's duration.
    """
    mailer = userkit_app.account_mailer
    if mailer is None:
        raise pytest.UsageError("the outbox fixture needs UserkitTestApp(account_mailer=...)")
    captured = Outbox(verify_url=mailer.verify_url, reset_url=mailer.reset_url)
    monkeypatch.setattr(mailer, "mailer", captured.mailer)
    return captured


@pytest.fixture
def userkit_passwords() -> dict[Any, str]:
    """The password of each user ``make_user`` created in this test, by user id (for ``auth_client``)."""
    return {}


@pytest.fixture
def make_user(userkit_app: UserkitTestApp, userkit_passwords: dict[Any, str]) -> UserFactory:
    """Create users through the app's own user manager (its policy, hashing and hooks).

    Passwords are remembered, so :func:`auth_client` can log the user in.
    """

    async def make(
        email: str = "user@example.com",
        password: str = DEFAULT_PASSWORD,
        *,
        is_active: bool = True,
        is_verified: bool = False,
        is_superuser: bool = False,
        **fields: Any,
    ) -> Any:
        schema = userkit_app.user_create or schemas.BaseUserCreate
        create = schema(
            email=email,
            password=password,
            is_active=is_active,
            is_verified=is_verified,
            is_superuser=is_superuser,
            **fields,
        )
        async with AsyncExitStack() as stack:
            manager = await resolve_dependency(userkit_app.app, userkit_app.fastapi_users.get_user_manager, stack)
            user = await manager.create(create, safe=False)
        userkit_passwords[user.id] = password
        return user

    return make


@pytest.fixture
def userkit_totp_devices() -> dict[Any, TOTPDevice]:
    """The TOTP devices of the users :func:`enrol_totp` enrolled, by user id."""
    return {}


@pytest.fixture
def enrol_totp(userkit_app: UserkitTestApp, userkit_totp_devices: dict[Any, TOTPDevice]) -> TOTPEnrol:
    """Enrol and confirm a user's TOTP factor through the app's own two-factor settings.

    Gives the user's :class:`TOTPDevice` (its ``code()`` and the ``recovery_codes``);
    :func:`auth_client` then answers the login's second step with the device's next code.

    Raises:
        pytest.UsageError: The app has no ``FastAPIUsers(mfa=...)``.
    """

    async def enrol(user: Any) -> TOTPDevice:
        device = await enrol_totp_device(userkit_app, user)
        userkit_totp_devices[user.id] = device
        return device

    return enrol


@pytest.fixture
async def auth_client(
    userkit_app: UserkitTestApp, userkit_passwords: dict[Any, str], userkit_totp_devices: dict[Any, TOTPDevice]
) -> AsyncIterator[AuthClientFactory]:
    """Clients logged in through the app's own login route, one per call; closed after the test.

    A bearer backend's client sends the ``Authorization`` header; a cookie backend's client keeps
    the cookies and, on state-changing requests, sends ``Origin``/``Sec-Fetch-Site`` and (token
    mode) the CSRF header, as a same-origin browser page does. A user enrolled by
    :func:`enrol_totp` answers the login's two-factor challenge with the device's next code.
    """
    clients: list[httpx.AsyncClient] = []

    async def login(user: Any, backend: str | None = None, password: str | None = None) -> httpx.AsyncClient:
        chosen = userkit_app.backend(backend)
        client = userkit_app.client()
        clients.append(client)
        path = userkit_app.app.url_path_for(f"auth:{chosen.name}.login")
        secret = password if password is not None else userkit_passwords[user.id]
        response = await client.post(path, data={"username": user.email, "password": secret})
        if response.status_code == 202 and response.json().get("detail") == _MFA_REQUIRED:
            device = userkit_totp_devices.get(user.id)
            if device is None:
                raise AssertionError(f"{user.email} has a second factor: enrol it with enrol_totp to log in")
            second = userkit_app.app.url_path_for(f"auth:{chosen.name}.mfa")
            challenge = response.json()["challenge_token"]
            response = await client.post(second, json={"challenge_token": challenge, "code": device.code()})
        if response.status_code not in {200, 204}:
            raise AssertionError(
                f"login of {user.email} on {chosen.name!r} answered {response.status_code}: {response.text}"
            )
        if response.status_code == 200 and "access_token" in response.json():
            client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return client

    yield login
    for client in clients:
        await client.aclose()


@pytest.fixture
async def reset_throttling(userkit_app: UserkitTestApp) -> ThrottleReset:
    """Empty the rate-limit counters (the SQL table, or the Redis keys) before the test.

    The fixture's value empties them again when awaited: ``await reset_throttling()``.
    """

    async def reset() -> None:
        settings = userkit_app.fastapi_users.security.rate_limit
        backend = settings.backend if settings is not None else None
        if isinstance(backend, SQLRateLimitBackend):
            engine = backend.engine or userkit_app.engine
            if engine is None:
                raise pytest.UsageError("reset_throttling needs UserkitTestApp(engine=...) for SQL rate limits")
            table = backend.table
            async with engine.begin() as connection:
                if await connection.run_sync(lambda sync: inspect(sync).has_table(table.name)):
                    await connection.execute(table.delete())
        elif isinstance(backend, RedisRateLimitBackend):
            keys = [key async for key in backend.redis.scan_iter(match=f"{backend.prefix}*")]
            if keys:
                await backend.redis.delete(*keys)

    await reset()
    return reset
