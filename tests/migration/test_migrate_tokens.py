"""``userkit db migrate-tokens`` and its steps on a database and a Redis FastAPI Users 15 wrote."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import redis.asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from fastapi_userkit.authentication.strategy._legacy import legacy_digest, legacy_redis_value
from fastapi_userkit.authentication.strategy._opaque import digest
from fastapi_userkit.cli.app import app
from fastapi_userkit.migrations.tokens import TokenMigration, migrate_redis_tokens
from tests.cli import fastapi_users_schema as fu
from tests.cli.cliapp import URL_VARIABLE
from tests.conftest import REDIS_PREFIX, REDIS_URL, EngineFactory, require_service

T = TypeVar("T")
MOVE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"  # what fu.add_user stores


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run async set-up or checks from a synchronous test."""
    return asyncio.run(work)


def migrate(*args: str) -> Result:
    """Invoke ``userkit --app tests.cli.cliapp:config db migrate-tokens ARGS``."""
    return CliRunner().invoke(app, ["--app", "tests.cli.cliapp:config", "db", "migrate-tokens", *args])


@pytest.fixture
async def engine(any_backend: str, engine_for: EngineFactory, monkeypatch: pytest.MonkeyPatch) -> AsyncEngine:
    """An engine on FastAPI Users' empty tables, named to the test app's config."""
    built = await engine_for(any_backend)
    await fu.create(built)
    monkeypatch.setenv(URL_VARIABLE, built.url.render_as_string(hide_password=False))
    monkeypatch.delenv("USERKIT_APP", raising=False)
    return built


async def _tokens(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return {row[0] for row in await connection.execute(select(fu.access_tokens.c.token))}


def test_sql_rows_before_the_move_are_migrated_once(engine: AsyncEngine) -> None:
    """Rows before the cut-off become legacy digests; later rows and other forms stay; a rerun changes nothing."""
    user_id = run(fu.add_user(engine, "lamorak@camelot.bt"))
    old = [secrets.token_urlsafe() for _ in range(3)]
    for token in old:
        run(fu.add_token(engine, user_id, token, MOVE - timedelta(hours=1)))
    newer = digest(f"{secrets.token_urlsafe()}.tag")
    run(fu.add_token(engine, user_id, newer, MOVE + timedelta(minutes=5)))
    run(fu.add_token(engine, user_id, "custom-token", MOVE - timedelta(hours=1)))

    first = migrate("--sql-issued-before", "2026-12-01T12:00:00")
    second = migrate("--sql-issued-before", "2026-12-01T12:00:00")

    assert first.exit_code == 0, first.output
    assert first.stdout == (
        "SQL (accesstoken): 3 tokens migrated, 0 already migrated, 2 left as they are (not FastAPI Users tokens),"
        " 0 ended (user gone)\n"
    )
    assert "SQL (accesstoken): 0 tokens migrated, 3 already migrated, 2 left" in second.stdout
    assert run(_tokens(engine)) == {*(legacy_digest(token) for token in old), newer, "custom-token"}


def test_batches_cover_every_row(engine: AsyncEngine) -> None:
    """A table larger than one batch is migrated whole (keyset pages over the primary key)."""
    from fastapi_userkit.migrations.tokens import migrate_sql_tokens

    user_id = run(fu.add_user(engine, "pelles@camelot.bt"))
    old = [secrets.token_urlsafe() for _ in range(7)]
    for token in old:
        run(fu.add_token(engine, user_id, token, MOVE))

    async def step() -> Any:
        async with engine.begin() as connection:
            return await connection.run_sync(lambda sync: migrate_sql_tokens(sync, batch_size=2))

    counts = run(step())

    assert (counts.migrated, counts.skipped) == (7, 0)
    assert run(_tokens(engine)) == {legacy_digest(token) for token in old}


def test_command_needs_something_to_migrate(engine: AsyncEngine) -> None:
    """Without --sql-issued-before or --redis-url the command refuses with a usage error."""
    result = migrate()

    assert result.exit_code == 2
    assert "give --sql-issued-before, --redis-url, or both" in result.output


def test_sql_needs_the_token_model(engine: AsyncEngine) -> None:
    """A config without access_token_model cannot migrate SQL rows: one line, exit 1."""
    result = CliRunner().invoke(
        app, ["--app", "tests.cli.cliapp:minimal", "db", "migrate-tokens", "--sql-issued-before", "2026-12-01"]
    )

    assert result.exit_code == 1
    assert "--sql-issued-before needs access_token_model" in result.output


@pytest.mark.parametrize("any_backend", ["sqlite"], indirect=True)
def test_redis_keys_are_migrated_with_their_ttl(engine: AsyncEngine) -> None:
    """FastAPI Users keys become legacy digests bound to the password hash, TTL kept and indexed; others stay."""
    prefix = f"{REDIS_PREFIX}mt:"
    user_id = run(fu.add_user(engine, "dagonet@camelot.bt"))
    old, forever, orphan = secrets.token_urlsafe(), secrets.token_urlsafe(), secrets.token_urlsafe()
    stranger = secrets.token_urlsafe()
    own = digest(f"{secrets.token_urlsafe()}.tag")

    async def seed() -> None:
        client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
        await client.set(f"{prefix}{old}", str(user_id), ex=1000)
        await client.set(f"{prefix}{forever}", str(user_id))
        await client.set(f"{prefix}{orphan}", str(uuid.uuid4()), ex=1000)
        await client.set(f"{prefix}{stranger}", "not-a-user-id", ex=1000)
        await client.set(f"{prefix}{own}", str(user_id), ex=1000)  # fastapi-userkit's own: indexed
        await client.sadd(f"{prefix}user:{user_id}", own)
        await client.sadd(f"{prefix}{'S' * 43}", "a set, not a token")
        await client.aclose()

    async def read() -> dict[str, Any]:
        client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
        keys = sorted([str(key)[len(prefix) :] async for key in client.scan_iter(f"{prefix}*")])
        found: dict[str, Any] = {
            "keys": keys,
            "value": await client.get(f"{prefix}{legacy_digest(old)}"),
            "ttl": await client.ttl(f"{prefix}{legacy_digest(old)}"),
            "forever": await client.ttl(f"{prefix}{legacy_digest(forever)}"),
            "index": await client.smembers(f"{prefix}user:{user_id}"),
            "index_ttl": await client.ttl(f"{prefix}user:{user_id}"),
        }
        for key in keys:
            await client.delete(f"{prefix}{key}")
        await client.aclose()
        return found

    run(seed())
    first = migrate("--redis-url", REDIS_URL, "--key-prefix", prefix)
    second = migrate("--redis-url", REDIS_URL, "--key-prefix", prefix)
    found = run(read())

    assert first.exit_code == 0, first.output
    assert first.stdout == (
        f"Redis ('{prefix}'): 2 tokens migrated, 0 already migrated, 2 left as they are (not FastAPI Users tokens),"
        " 2 ended (user gone)\n"
    )
    assert "2 already migrated" in second.stdout
    assert found["keys"] == sorted([legacy_digest(old), legacy_digest(forever), own, "S" * 43, f"user:{user_id}"])
    assert found["value"] == legacy_redis_value(user_id, HASH)
    assert 990 <= found["ttl"] <= 1000
    assert found["forever"] == -1
    assert found["index"] == {own, legacy_digest(old), legacy_digest(forever)}
    assert found["index_ttl"] == -1  # a member without expiry keeps the index


async def _hashes(user_ids: Sequence[str]) -> Mapping[str, str]:
    """Every user exists, with one password hash (the lookup the CLI does in the user table)."""
    return dict.fromkeys(user_ids, HASH)


async def test_user_indexes_keep_the_longest_lifetime() -> None:
    """An index with a longer TTL keeps it, one without expiry keeps none, a new one gets its token's; in batches."""
    require_service("redis")
    prefix = f"{REDIS_PREFIX}mtx:"
    client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
    await client.sadd(f"{prefix}user:long", "x")
    await client.expire(f"{prefix}user:long", 5000)
    await client.sadd(f"{prefix}user:forever", "x")
    for user_id in ("long", "forever", "new", "new"):
        await client.set(f"{prefix}{secrets.token_urlsafe()}", user_id, ex=1000)
    try:
        counts = await migrate_redis_tokens(client, _hashes, prefix, batch_size=3)
        ttls = [await client.ttl(f"{prefix}user:{user_id}") for user_id in ("long", "forever", "new")]
    finally:
        await client.delete(*[key async for key in client.scan_iter(f"{prefix}*")])
        await client.aclose()

    assert counts == TokenMigration(migrated=4)
    assert ttls[0] > 4000
    assert ttls[1] == -1
    assert 990 <= ttls[2] <= 1000


async def test_keys_written_during_the_scan_are_not_counted_again() -> None:
    """SCAN may return the legacy keys the run itself wrote; they count as migrated, not also as "already"."""
    require_service("redis")
    prefix = f"{REDIS_PREFIX}mtscan:"
    client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)
    for _ in range(300):
        await client.set(f"{prefix}{secrets.token_urlsafe()}", "long", ex=1000)
    try:
        counts = await migrate_redis_tokens(client, _hashes, prefix, batch_size=5)
        again = await migrate_redis_tokens(client, _hashes, prefix, batch_size=5)
    finally:
        await client.delete(*[key async for key in client.scan_iter(f"{prefix}*")])
        await client.aclose()

    assert counts == TokenMigration(migrated=300)
    assert again == TokenMigration(already=300)
