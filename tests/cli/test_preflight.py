"""``userkit db preflight`` on a database FastAPI Users 15 left, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import redis.asyncio
from sqlalchemy import MetaData, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from fastapi_userkit.authentication.strategy._legacy import legacy_digest
from fastapi_userkit.cli._errors import CLIError
from fastapi_userkit.cli._preflight_checks import Account, DuplicateGroup, PreflightReport, apply_fix, run_preflight
from fastapi_userkit.cli.app import app
from tests.cli import fastapi_users_schema as fu
from tests.cli.cliapp import URL_VARIABLE
from tests.conftest import REDIS_PREFIX, REDIS_URL, EngineFactory, require_service

T = TypeVar("T")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TOKEN = "A" * 43  # the form of secrets.token_urlsafe(), which FastAPI Users issues


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run async set-up or checks from a synchronous test."""
    return asyncio.run(work)


@pytest.fixture
async def engine(any_backend: str, engine_for: EngineFactory, monkeypatch: pytest.MonkeyPatch) -> AsyncEngine:
    """An engine on FastAPI Users' empty tables, named to the test app's config."""
    built = await engine_for(any_backend)
    await fu.create(built)
    monkeypatch.setenv(URL_VARIABLE, built.url.render_as_string(hide_password=False))
    monkeypatch.delenv("USERKIT_APP", raising=False)
    return built


def preflight(*args: str, app_spec: str = "tests.cli.cliapp:config") -> Result:
    """Invoke ``userkit --app APP_SPEC db preflight ARGS``."""
    return CliRunner().invoke(app, ["--app", app_spec, "db", "preflight", *args])


async def _emails(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return sorted(row[0] for row in await connection.execute(select(fu.users.c.email)))


def test_clean_database_passes_and_lists_tokens_and_schema(engine: AsyncEngine) -> None:
    """Without case duplicates the exit code is 0; tokens to migrate and migrated are counted, schema changes listed."""
    user_id = run(fu.add_user(engine, "lancelot@camelot.bt"))
    run(fu.add_token(engine, user_id, TOKEN, NOW))
    run(fu.add_token(engine, user_id, "short-custom-token", NOW))
    run(fu.add_token(engine, user_id, legacy_digest("C" * 43), NOW))

    result = preflight()

    assert result.exit_code == 0, result.output
    assert "Case duplicates: none" in result.stdout
    assert "Access tokens: 1 to migrate, 1 migrated (3 rows in accesstoken)" in result.stdout
    assert "1 of them are not 43-character base64url values" in result.stdout
    assert "add table oauth_account" in result.stdout
    assert "Nothing blocks the upgrade." in result.stdout


def test_case_duplicates_block_and_are_grouped_with_ids(engine: AsyncEngine) -> None:
    """Addresses differing only in case are listed in one group with their ids, exit 1, and do block the index."""
    first = run(fu.add_user(engine, "Alice@Camelot.bt", verified=True))
    second = run(fu.add_user(engine, "alice@camelot.bt"))
    run(fu.add_user(engine, "bob@camelot.bt"))

    result = preflight()

    assert result.exit_code == 1, result.output
    assert "Case duplicates (block the case-insensitive unique index): 1 groups" in result.stdout
    assert f"Alice@Camelot.bt (id {first}; verified, active, no token)" in result.stdout
    assert f"alice@camelot.bt (id {second}; unverified, active, no token)" in result.stdout
    assert "bob@camelot.bt" not in result.stdout
    assert "Blocking: case duplicates" in result.stdout
    with pytest.raises(IntegrityError):
        run(fu.build_email_index(engine))


def test_fix_without_yes_prints_the_plan_and_changes_nothing(engine: AsyncEngine) -> None:
    """--fix alone prints which address stays and which is renamed, and writes nothing."""
    run(fu.add_user(engine, "Alice@Camelot.bt", verified=True))
    run(fu.add_user(engine, "alice@camelot.bt"))

    result = preflight("--fix")

    assert result.exit_code == 1, result.output
    assert "  keep   Alice@Camelot.bt" in result.stdout
    assert "  rename alice@camelot.bt -> alice+userkit-dup-1@camelot.bt" in result.stdout
    assert "Run again with --fix --yes" in result.stdout
    assert run(_emails(engine)) == ["Alice@Camelot.bt", "alice@camelot.bt"]


def test_fix_yes_renames_so_the_index_builds(engine: AsyncEngine) -> None:
    """--fix --yes keeps the most recently logged-in address, renames the rest, exits 0; the index then builds."""
    old = run(fu.add_user(engine, "ALICE@camelot.bt", verified=True))
    recent = run(fu.add_user(engine, "alice@camelot.bt", verified=True))
    run(fu.add_user(engine, "Alice@camelot.bt"))
    run(fu.add_user(engine, "alice+userkit-dup-1@camelot.bt"))  # the first suffix is taken
    run(fu.add_token(engine, old, "B" * 43, NOW - timedelta(days=30)))
    run(fu.add_token(engine, recent, TOKEN, NOW))

    result = preflight("--fix", "--yes")

    assert result.exit_code == 0, result.output
    assert "Renamed 2 addresses." in result.stdout
    assert run(_emails(engine)) == [
        "ALICE+userkit-dup-2@camelot.bt",
        "Alice+userkit-dup-3@camelot.bt",
        "alice+userkit-dup-1@camelot.bt",
        "alice@camelot.bt",
    ]
    run(fu.build_email_index(engine))


def test_fix_refuses_a_tie(engine: AsyncEngine) -> None:
    """Two accounts equally verified, active and unused: the plan refuses the group and the exit stays 1."""
    run(fu.add_user(engine, "Gawain@camelot.bt", verified=True))
    run(fu.add_user(engine, "gawain@camelot.bt", verified=True))

    result = preflight("--fix", "--yes")

    assert result.exit_code == 1, result.output
    assert "refused: 2 accounts are equally verified, active and recently used" in result.stdout
    assert "Renamed" not in result.stdout
    assert run(_emails(engine)) == ["Gawain@camelot.bt", "gawain@camelot.bt"]


def test_fix_refuses_a_local_part_without_room(engine: AsyncEngine) -> None:
    """A duplicate whose local part cannot take the suffix within 64 characters is left to the administrator."""
    local = "k" * 60
    run(fu.add_user(engine, f"{local}@camelot.bt", verified=True))
    run(fu.add_user(engine, f"{local.upper()}@camelot.bt"))

    result = preflight("--fix")

    assert result.exit_code == 1, result.output
    assert "has no room for the suffix (local part over 64 characters)" in result.stdout


def test_lookalike_addresses_are_listed_without_blocking(engine: AsyncEngine) -> None:
    """Stored addresses the registration rules now refuse are listed with the reason; nothing blocks."""
    run(fu.add_user(engine, "\uff4d\uff45\uff52\uff4c\uff49\uff4e@camelot.bt"))
    run(fu.add_user(engine, "stra\u00dfe@camelot.bt"))

    result = preflight()

    assert result.exit_code == 0, result.output
    assert "new registrations refuse (their owners still log in): 2" in result.stdout
    assert "full-width, circled or other compatibility characters" in result.stdout
    assert "stra\u00dfe@camelot.bt" in result.stdout


def test_without_a_token_table(engine: AsyncEngine) -> None:
    """An app without an access-token model, or a database without the table, gets no token count."""
    run(fu.create(engine, with_tokens=False))
    run(fu.add_user(engine, "Tristan@camelot.bt", verified=True))
    run(fu.add_user(engine, "tristan@camelot.bt"))

    configured = preflight("--fix")
    minimal = preflight(app_spec="tests.cli.cliapp:minimal")

    assert configured.exit_code == 1, configured.output
    assert "Tristan@Camelot.bt (id" not in configured.stdout
    assert "rename tristan@camelot.bt -> tristan+userkit-dup-1@camelot.bt" in configured.stdout
    assert "Access tokens: no access-token table" in configured.stdout
    assert "Access tokens: no access-token table" in minimal.stdout


def test_missing_user_table_is_one_line(engine: AsyncEngine) -> None:
    """A database without the user table exits 3 with one line, not a traceback."""
    result = preflight(app_spec="tests.cli.cliapp:ghost")

    assert result.exit_code == 3, result.output
    assert "A table is missing" in result.output


def test_schema_comparison_can_be_skipped(engine: AsyncEngine) -> None:
    """run_preflight(compare_schema=False) reads the rows and leaves the schema changes unknown."""
    run(fu.add_user(engine, "elaine@camelot.bt"))

    async def check() -> PreflightReport:
        async with engine.connect() as connection:
            return await run_preflight(connection, "user", "accesstoken", MetaData(), compare_schema=False)

    report = run(check())

    assert report.schema_changes is None
    assert not report.blocking


def test_apply_refuses_a_plan_gone_stale(engine: AsyncEngine) -> None:
    """An address changed since the plan was made is not renamed, and the whole fix is refused."""
    user_id = run(fu.add_user(engine, "percival@camelot.bt"))
    stale = Account(user_id, "PERCIVAL@camelot.bt", True, False)
    group = DuplicateGroup((stale,), None, ((stale, "percival+userkit-dup-1@camelot.bt"),))

    async def apply() -> int:
        async with engine.begin() as connection:
            return await apply_fix(connection, "user", [group])

    with pytest.raises(CLIError, match="changed since the plan was made"):
        run(apply())
    assert run(_emails(engine)) == ["percival@camelot.bt"]


async def _redis_keys(prefix: str, *keys: str) -> None:
    client = redis.asyncio.from_url(REDIS_URL)
    try:
        if keys:
            await client.mset({f"{prefix}{key}": "user-id" for key in keys})
        else:
            await client.delete(*[key async for key in client.scan_iter(match=f"{prefix}*")])
    finally:
        await client.aclose()


@pytest.mark.parametrize("any_backend", ["sqlite"])
def test_redis_tokens_are_counted(engine: AsyncEngine) -> None:
    """--redis-url counts the keys to migrate and migrated under the prefix, not the per-user sets nor other keys."""
    require_service("redis")
    prefix = f"{REDIS_PREFIX}preflight:"
    run(_redis_keys(prefix, TOKEN, "B" * 43, "user:1234", legacy_digest("C" * 43)))
    run(_redis_keys(f"{REDIS_PREFIX}other:", TOKEN))
    try:
        result = preflight("--redis-url", REDIS_URL, "--redis-prefix", prefix)
    finally:
        run(_redis_keys(prefix))
        run(_redis_keys(f"{REDIS_PREFIX}other:"))

    assert result.exit_code == 0, result.output
    assert f"Redis tokens: 2 to migrate, 1 migrated (keys under '{prefix}')" in result.stdout
