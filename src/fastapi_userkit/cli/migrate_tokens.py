"""``userkit db migrate-tokens``: FastAPI Users' database and Redis tokens keep working after the move.

See :mod:`fastapi_userkit.migrations.tokens` for what is written and why it is safe. SQL rows
are migrated with ``--sql-issued-before`` (the time of the move: rows written after it are
fastapi-userkit's own and look the same), or from the application's Alembic revision; Redis keys
with ``--redis-url``. Counts are printed; running it twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from sqlalchemy import inspect, select

from fastapi_userkit.cli._errors import CLIError
from fastapi_userkit.cli._state import get_state, run_async
from fastapi_userkit.cli.config import UserkitCLIConfig
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.exceptions import InvalidID

__all__ = ["migrate_tokens_command", "password_hashes_for"]


def password_hashes_for(config: UserkitCLIConfig) -> Any:
    """A :data:`~fastapi_userkit.migrations.tokens.PasswordHashes` reading the application's user table."""
    model = config.user_model

    async def lookup(user_ids: Sequence[str]) -> Mapping[str, str]:
        async with config.get_session_maker()() as session:
            parse = config.make_user_manager(SQLAlchemyUserDatabase(session, model)).parse_id
            parsed: list[Any] = []
            for user_id in user_ids:
                try:
                    parsed.append(parse(user_id))
                except InvalidID:
                    continue  # not an id of this app: the key ends
            if not parsed:
                return {}
            rows = await session.execute(select(model.id, model.hashed_password).where(model.id.in_(parsed)))
            return {str(user_id): str(hashed) for user_id, hashed in rows}

    return lookup


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def migrate_tokens_command(
    ctx: typer.Context,
    sql_issued_before: Annotated[
        datetime | None,
        typer.Option(
            "--sql-issued-before",
            help="Migrate the access-token table's rows created before this time (UTC unless given): the move.",
        ),
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="Migrate the keys FastAPI Users' RedisStrategy stored here.")
    ] = None,
    key_prefix: Annotated[
        str, typer.Option("--key-prefix", help="The RedisStrategy's key_prefix.")
    ] = "fastapi_users_token:",
    cluster: Annotated[bool, typer.Option("--cluster", help="--redis-url names a node of a Redis Cluster.")] = False,
) -> None:
    """Replace FastAPI Users' stored tokens by legacy digests, so their clients stay logged in."""
    state = get_state(ctx)
    if sql_issued_before is None and redis_url is None:
        raise typer.BadParameter("give --sql-issued-before, --redis-url, or both")

    async def run(config: UserkitCLIConfig) -> list[str]:
        try:
            from fastapi_userkit.migrations.tokens import migrate_redis_tokens, migrate_sql_tokens
        except ImportError as exc:  # pragma: no cover - the test environment installs the extra
            raise CLIError(
                "userkit db migrate-tokens needs Alembic: pip install 'fastapi-userkit[migrations]'"
            ) from exc
        lines: list[str] = []
        if sql_issued_before is not None:
            model = config.access_token_model
            if model is None:
                raise CLIError("--sql-issued-before needs access_token_model in the CLI config")
            name = str(inspect(model).local_table.name)
            cutoff = _aware(sql_issued_before)
            async with config.get_engine().begin() as connection:
                counts = await connection.run_sync(lambda sync: migrate_sql_tokens(sync, name, issued_before=cutoff))
            lines.append(f"SQL ({name}): {counts}")
        if redis_url is not None:
            try:
                import redis.asyncio
            except ImportError as exc:  # pragma: no cover - the test environment installs the extra
                raise CLIError("--redis-url needs the redis extra: pip install 'fastapi-userkit[redis]'") from exc
            from redis.asyncio.cluster import RedisCluster

            client = RedisCluster.from_url(redis_url) if cluster else redis.asyncio.from_url(redis_url)
            try:
                counts = await migrate_redis_tokens(client, password_hashes_for(config), key_prefix)
            finally:
                await client.aclose()
            lines.append(f"Redis ({key_prefix!r}): {counts}")
        return lines

    for line in run_async(state, run):
        typer.echo(line)
