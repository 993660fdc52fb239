"""``userkit check --deploy``: each audit fires on its misconfiguration and stays silent otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from fastapi_userkit.authentication import JWTStrategy, RedisStrategy
from fastapi_userkit.cli.app import app
from fastapi_userkit.cli.deploy_check import audit
from fastapi_userkit.security import SecuritySettings, SQLRateLimitBackend
from tests.cli.deployapp import JWT_SECRET, build, with_csrf_secret, with_rate_limit_backend
from tests.conftest import REDIS_URL, EngineFactory

MEMORY_SQLITE = "sqlite+aiosqlite://"


async def _codes(workers: int = 1, environ: dict[str, str] | None = None, **settings: Any) -> list[str]:
    findings = await audit(build(**settings), workers, environ or {})
    return [str(finding) for finding in findings]


async def test_baseline_is_silent() -> None:
    """A production-ready config (32-byte distinct secrets, OWASP's minimum Argon2id, refresh on) has no finding."""
    assert await _codes() == []


def _memory_rate_limits() -> SecuritySettings:
    return with_rate_limit_backend(SQLRateLimitBackend(create_async_engine(MEMORY_SQLITE)))


def _jwt_with_request(request: Any) -> JWTStrategy[Any, Any]:  # pragma: no cover - never called by the audit
    return JWTStrategy(JWT_SECRET, 900)


def _jwt_generator() -> Iterator[JWTStrategy[Any, Any]]:  # pragma: no cover - never called by the audit
    yield JWTStrategy(JWT_SECRET, 900)


async def _jwt_async_generator() -> AsyncIterator[JWTStrategy[Any, Any]]:  # pragma: no cover - never called
    yield JWTStrategy(JWT_SECRET, 900)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"jwt_secret": "k" * 31}, "UK-E001 error: the JWT secret of backend 'jwt' is 31 bytes: use at least 32"),
        ({"verify_secret": "v" * 20}, "UK-E001 error: UserManager.verification_token_secret is 20 bytes"),
        ({"reset_secret": "change-me-in-production-0123456789abcdef"}, "UK-E002 error: UserManager.reset_password"),
        ({"jwt_secret": "SECRET"}, "UK-E002 error: the JWT secret of backend 'cookie' is a well-known placeholder"),
        ({"security": with_csrf_secret("replace-me-with-a-key-0123456789abcdef")}, "UK-E002 error: CSRFSettings"),
        ({"reset_secret": None}, "UK-E003 error: UserManager.reset_password_token_secret is not set"),
        ({"cookie_secure": False}, "UK-E004 error: backend 'cookie': cookie_secure=False"),
        ({"cors": {"allow_origins": ["*"], "allow_credentials": True}}, "UK-E005 error: CORSMiddleware allows every"),
        ({"cors": {"allow_origin_regex": ".*", "allow_credentials": True}}, "UK-E005 error"),
        ({"argon2": (19 * 1024 - 1, 2, 1)}, "UK-E006 error: password hashing below OWASP's minimum: m=19455 < 19456"),
        ({"argon2": (64 * 1024, 1, 1)}, "UK-E006 error: password hashing below OWASP's minimum: t=1 < 2"),
        ({"bcrypt_first": 9}, "UK-E006 error: password hashing below OWASP's minimum: bcrypt cost 9 < 10"),
        ({"url": MEMORY_SQLITE, "workers": 2}, "UK-E007 error: SQLite in memory with 2 workers"),
        ({"url": "sqlite+aiosqlite:///file:x?mode=memory&uri=true", "workers": 2}, "UK-E007 error"),
        ({"reset_secret": JWT_SECRET}, "UK-W001 warning: UserManager.reset_password_token_secret is the JWT secret"),
        ({"security": SecuritySettings(), "proxy_middleware": True}, "UK-W002 warning: a proxy forwards"),
        ({"security": SecuritySettings(), "environ": {"FORWARDED_ALLOW_IPS": "10.0.0.1"}}, "UK-W002 warning"),
        (
            {"security": SecuritySettings(rate_limit=None, trusted_proxy_count=1)},
            "UK-W003 warning: rate limiting is off",
        ),
        ({"security": _memory_rate_limits(), "workers": 3}, "UK-W004 warning: rate-limit counters are in an in-memory"),
        ({"url": MEMORY_SQLITE, "security": SecuritySettings(trusted_proxy_count=1), "workers": 2}, "UK-W004 warning"),
        ({"refresh": False}, "UK-W005 warning: backend 'jwt': JWTs without revoked_tokens or refresh sessions"),
        ({"jwt_lifetime": None}, "UK-W006 warning: backend 'jwt': refresh is on but access JWTs never expire"),
        ({"jwt_lifetime": 3601}, "UK-W006 warning: backend 'jwt': refresh is on but access JWTs live 3601 s"),
        ({"workers": 4}, "UK-W007 warning: SQLite with 4 workers"),
        ({"security": SecuritySettings()}, "UK-I001 note: trusted_proxy_count is 0"),
        ({"strategy_factory": _jwt_with_request}, "UK-I002 note: backend 'jwt': its strategy factory needs a request"),
        ({"strategy_factory": _jwt_generator}, "UK-I002 note: backend 'jwt'"),
        ({"strategy_factory": _jwt_async_generator}, "UK-I002 note: backend 'jwt'"),
        ({"with_fastapi_users": False}, "UK-I003 note: UserkitCLIConfig has no fastapi_users: their audits"),
        (
            {"with_app": False, "with_fastapi_users": False},
            "UK-I003 note: UserkitCLIConfig has no fastapi_users nor app",
        ),
    ],
)
async def test_audit_fires(settings: dict[str, Any], expected: str) -> None:
    """Each misconfiguration yields its coded finding."""
    workers = settings.pop("workers", 1)
    environ = settings.pop("environ", None)

    findings = await _codes(workers, environ, **settings)

    assert any(finding.startswith(expected) for finding in findings), findings


def _redis_strategy() -> RedisStrategy[Any, Any]:
    return RedisStrategy(redis.asyncio.Redis.from_url(REDIS_URL), lifetime_seconds=900)


async def _async_jwt() -> JWTStrategy[Any, Any]:
    return JWTStrategy(JWT_SECRET, 900)


@pytest.mark.parametrize(
    "settings",
    [
        {"jwt_secret": "k" * 32},  # UK-E001 at the limit
        {"cors": {"allow_origins": ["*"], "allow_credentials": False}},  # UK-E005: no cookies, no risk
        {"bcrypt_first": 10},  # UK-E006 at bcrypt's limit
        {"url": MEMORY_SQLITE},  # UK-E007, UK-W004: one worker
        {"security": _memory_rate_limits()},  # UK-W004: one worker
        {"url": "postgresql+asyncpg://app@db/app", "workers": 4},  # UK-W007: a server database
        {"url": "mysql+asyncmy://app@db/app", "workers": 4},
        {"refresh": False, "revoked_tokens": True},  # UK-W005: revocable JWTs
        {"jwt_lifetime": 3600},  # UK-W006 at the limit
        {"strategy_factory": _async_jwt},  # an async factory is awaited and inspected
        {"strategy_factory": _redis_strategy},  # opaque tokens: no secret, revocable
        {"security": SecuritySettings(trusted_proxy_count=2)},  # UK-I001, UK-W002
    ],
)
async def test_audit_stays_silent(settings: dict[str, Any]) -> None:
    """At the limits and with the safe variants, no finding."""
    workers = settings.pop("workers", 1)

    findings = await _codes(workers, **settings)

    assert findings == []


async def test_audit_on_each_database(any_backend: str, engine_for: EngineFactory) -> None:
    """On a real SQLite, PostgreSQL or MariaDB URL with four workers, only the SQLite file is flagged."""
    engine = await engine_for(any_backend)
    url = engine.url.render_as_string(hide_password=False)

    findings = await _codes(4, url=url)

    assert [finding.split(":")[0] for finding in findings] == (["UK-W007 warning"] if any_backend == "sqlite" else [])


async def test_security_defaults_need_only_the_proxy_note() -> None:
    """With FastAPIUsers' default security settings, the only finding is the trusted_proxy_count note."""
    assert await _codes(security=SecuritySettings()) == [
        "UK-I001 note: trusted_proxy_count is 0: set it to the number of reverse proxies in front, if any"
    ]


def _check(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["--app", *args], env=env)


def test_cli_secure_app_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    """``userkit check --deploy`` on a sound app prints the summary only and exits 0."""
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)

    result = _check("tests.cli.deployapp:secure", "check", "--deploy")

    assert (result.exit_code, result.stdout) == (0, "0 errors, 0 warnings, 0 notes.\n")


def test_cli_insecure_app_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI Users' documented example values: one line per finding, errors first, and exit 1."""
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)

    result = _check("tests.cli.deployapp:insecure", "check", "--deploy")

    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    assert [line.split(" ", 1)[0] for line in lines[:-1]] == [
        *["UK-E002"] * 4,
        "UK-E006",
        *["UK-W001"] * 2,
        *["UK-W005"] * 2,
    ]
    assert lines[-1] == "5 errors, 4 warnings, 0 notes."


def test_cli_reads_workers_from_web_concurrency() -> None:
    """WEB_CONCURRENCY, as uvicorn and gunicorn read it, is the number of workers; --workers overrides it."""
    from_env = _check("tests.cli.deployapp:secure", "check", "--deploy", env={"WEB_CONCURRENCY": "3"})
    from_option = _check(
        "tests.cli.deployapp:secure", "check", "--deploy", "--workers", "1", env={"WEB_CONCURRENCY": "3"}
    )

    assert from_env.exit_code == 0
    assert from_env.stdout.splitlines()[0].startswith("UK-W007 warning: SQLite with 3 workers")
    assert from_option.stdout == "0 errors, 0 warnings, 0 notes.\n"


def test_cli_without_deploy_is_a_usage_error() -> None:
    """``userkit check`` alone names the one audit there is, with the usage exit code."""
    result = _check("tests.cli.deployapp:secure", "check")

    assert result.exit_code == 2
    assert result.stderr == "Error: Nothing to check: run 'userkit check --deploy'\n"


def test_cli_failing_strategy_factory_is_one_line() -> None:
    """A strategy factory that raises is reported in one line with exit 1, not a traceback."""
    result = _check("tests.cli.deployapp:failing_factory", "check", "--deploy")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Unexpected RuntimeError: cannot read the signing key (run with --traceback for details)\n"
    )
