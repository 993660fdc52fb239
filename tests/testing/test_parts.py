"""The plugin's parts on their own: clock, outbox parsing, dependency resolution, and its usage errors.

Here :mod:`fastapi_userkit.testing` is imported inside the tests, the other way an application
may write it (``test_plugin.py`` imports it at the top).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Annotated, Any

import pytest
import redis.asyncio
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import REDIS_PREFIX, REDIS_URL, require_service

if TYPE_CHECKING:
    from fastapi_userkit.testing import UserkitTestApp

pytest_plugins = ["fastapi_userkit.testing"]


def test_clock_moves_forward_only() -> None:
    """advance() adds seconds and timedelta units; backwards and naive starts are refused."""
    from fastapi_userkit.testing import FrozenClock

    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))

    assert clock.advance(30, minutes=1) == datetime(2030, 1, 1, 0, 1, 30, tzinfo=UTC)
    assert clock.time() == clock().timestamp()
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="aware"):
        FrozenClock(datetime(2030, 1, 1))  # noqa: DTZ001 - the naive datetime it refuses


def _message(to: str, body: str, html_only: bool = False) -> EmailMessage:
    message = EmailMessage()
    message["To"], message["Subject"] = to, "Hello"
    if html_only:
        message.set_content(f"<p>{body}</p>", subtype="html")
    else:
        message.set_content(body)
    return message


async def test_outbox_parses_links_and_says_what_is_missing() -> None:
    """Tokens come from links matching the URL templates only; asking for a missing one fails with what was sent."""
    from fastapi_userkit.testing import Outbox

    outbox = Outbox(reset_url="https://app.example/reset/{token}")
    await outbox.mailer.send(_message("a@camelot.bt", "Go to https://app.example/reset/abc-123 now."))
    await outbox.mailer.send(_message("b@camelot.bt", "See https://app.example/elsewhere/xyz"))
    await outbox.mailer.send(_message("c@camelot.bt", "html", html_only=True))

    assert len(outbox) == 3
    assert outbox.reset_token("a@camelot.bt") == "abc-123"
    assert outbox.messages[0].verify_token is None
    assert outbox.last().text == ""
    assert outbox.last("b@camelot.bt").links == ("https://app.example/elsewhere/xyz",)
    with pytest.raises(AssertionError, match=r"No e-mail to d@camelot\.bt was sent; sent: "):
        outbox.last("d@camelot.bt")
    with pytest.raises(AssertionError, match=r"No password-reset e-mail to b@camelot\.bt"):
        outbox.reset_token("b@camelot.bt")
    with pytest.raises(AssertionError, match="No verification e-mail was sent"):
        outbox.verify_token()


async def _get_number() -> int:
    return 41


def _plus_one(number: Annotated[int, Depends(_get_number)], step: Annotated[int, "a note"] = 1) -> int:
    return number + step


def _needs_request(request: Any) -> int:  # pragma: no cover - refused before it is called
    return 0


async def test_resolve_dependency_follows_fastapi_rules() -> None:
    """Annotated dependencies, defaults, sync callables and app overrides resolve; a request parameter is refused."""
    from fastapi_userkit.testing import resolve_dependency

    app = FastAPI()
    async with AsyncExitStack() as stack:
        assert await resolve_dependency(app, _plus_one, stack) == 42
        app.dependency_overrides[_get_number] = lambda: 1
        assert await resolve_dependency(app, _plus_one, stack) == 2
        with pytest.raises(TypeError, match="_needs_request needs 'request'"):
            await resolve_dependency(app, _needs_request, stack)


@pytest.fixture
async def userkit_app(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """An app without a database, with what each test asks for (``indirect`` parameter)."""
    from fastapi_userkit import FastAPIUsers
    from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
    from fastapi_userkit.security import (
        RateLimitSettings,
        RedisRateLimitBackend,
        SecuritySettings,
        SQLRateLimitBackend,
    )
    from fastapi_userkit.testing import UserkitTestApp
    from tests.app_factory import SECRET

    kind = getattr(request, "param", "plain")

    def get_strategy() -> JWTStrategy[Any, Any]:
        return JWTStrategy(SECRET, 60)

    def get_user_manager() -> Any:  # pragma: no cover - no test here reaches a user
        return None

    backend: AuthenticationBackend[Any, Any] = AuthenticationBackend("jwt", BearerTransport("login"), get_strategy)
    rate_limit: RateLimitSettings | None = RateLimitSettings()
    if kind == "redis":
        require_service("redis")
        client = redis.asyncio.from_url(REDIS_URL)
        rate_limit = RateLimitSettings(backend=RedisRateLimitBackend(client, prefix=f"{REDIS_PREFIX}plugin:"))
    elif kind == "off":
        rate_limit = None
    elif kind == "empty-sql":
        engine = create_async_engine("sqlite+aiosqlite://")
        rate_limit = RateLimitSettings(backend=SQLRateLimitBackend(engine))
    security = SecuritySettings(rate_limit=rate_limit, csrf=None)
    fastapi_users: Any = FastAPIUsers(get_user_manager, [backend], security=security)
    yield UserkitTestApp(app=FastAPI(), fastapi_users=fastapi_users)
    if kind == "empty-sql":
        await engine.dispose()


@pytest.mark.parametrize("userkit_app", ["redis"], indirect=True)
async def test_reset_throttling_deletes_the_redis_keys(userkit_app: UserkitTestApp) -> None:
    """reset_throttling deletes the keys under the Redis backend's prefix, and no other."""
    from fastapi_userkit.security import RedisRateLimitBackend

    settings = userkit_app.fastapi_users.security.rate_limit
    assert settings is not None
    backend = settings.backend
    assert isinstance(backend, RedisRateLimitBackend)
    await backend.redis.set(f"{backend.prefix}k", "1")
    await backend.redis.set(f"{REDIS_PREFIX}other", "1")

    reset = await _fixture(userkit_app, "reset_throttling")
    await reset()
    await reset()  # nothing left to delete

    assert await backend.redis.exists(f"{backend.prefix}k") == 0
    assert await backend.redis.exists(f"{REDIS_PREFIX}other") == 1
    await backend.redis.delete(f"{REDIS_PREFIX}other")
    await backend.redis.aclose()


async def _fixture(userkit_app: Any, name: str) -> Any:
    """Call a plugin fixture's function with ``userkit_app`` (for paths a real app never takes)."""
    from fastapi_userkit.testing import plugin

    function = getattr(plugin, name).__wrapped__
    return await function(userkit_app)


@pytest.mark.parametrize("userkit_app", ["off", "empty-sql"], indirect=True)
async def test_reset_throttling_without_counters(userkit_app: UserkitTestApp) -> None:
    """With rate limiting off, or a counter table not created yet, there is nothing to reset, and no error."""
    reset = await _fixture(userkit_app, "reset_throttling")

    await reset()


async def test_usage_errors(userkit_app: UserkitTestApp, request: pytest.FixtureRequest) -> None:
    """SQL rate limits without an engine and an outbox without an account mailer are usage errors."""
    with pytest.raises(pytest.UsageError, match=r"needs UserkitTestApp\(engine=\.\.\.\)"):
        await _fixture(userkit_app, "reset_throttling")
    with pytest.raises(pytest.UsageError, match="account_mailer"):
        request.getfixturevalue("outbox")
    async with userkit_app.client() as client:
        assert (await client.post("/nowhere")).status_code == 404  # CSRF off: no token header to add
    with pytest.raises(LookupError, match="No backend named 'cookie'; the app has \\['jwt'\\]"):
        userkit_app.backend("cookie")
