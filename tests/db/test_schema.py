"""The schema the mixins create, read back from each real database.

Table and column names, types and lengths are the contract's (fastapi-users-db-sqlalchemy 7,
contract section 3.1), so an existing FastAPI Users database keeps working; the e-mail index is
case-insensitive in the database itself, and ``get_by_email`` is served by it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, inspect, text
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_userkit.db import SQLAlchemyUserDatabase
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User

UUID_KIND = "uuid"


def engine_of(session_maker: SessionMaker) -> AsyncEngine:
    """The engine the fixture's sessions are bound to."""
    bind = session_maker.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


def kind(column_type: Any) -> tuple[str, int | None]:
    """A dialect-neutral (kind, length) of a reflected column type."""
    if isinstance(column_type, postgresql.UUID):
        return UUID_KIND, None
    if isinstance(column_type, sqltypes.CHAR) and column_type.length == 36:
        return UUID_KIND, None
    if isinstance(column_type, sqltypes.Boolean) or getattr(column_type, "display_width", None) == 1:
        return "boolean", None
    if isinstance(column_type, sqltypes.Integer):
        return "integer", None
    if isinstance(column_type, sqltypes.DateTime):
        return "timestamp", None
    if isinstance(column_type, sqltypes.String):
        return "string", column_type.length
    raise AssertionError(f"unexpected column type {column_type!r}")  # pragma: no cover - diagnostic


def reflect(connection: Connection, table: str) -> dict[str, tuple[str, int | None, bool]]:
    """Each column of ``table`` as (kind, length, nullable)."""
    return {
        column["name"]: (*kind(column["type"]), column["nullable"]) for column in inspect(connection).get_columns(table)
    }


USER_COLUMNS = {
    "id": (UUID_KIND, None, False),
    "email": ("string", 320, False),
    "hashed_password": ("string", 1024, False),
    "is_active": ("boolean", None, False),
    "is_superuser": ("boolean", None, False),
    "is_verified": ("boolean", None, False),
    "first_name": ("string", 255, True),  # the test application's own column
}
OAUTH_ACCOUNT_COLUMNS = {
    "id": (UUID_KIND, None, False),
    "user_id": (UUID_KIND, None, False),
    "oauth_name": ("string", 100, False),
    "access_token": ("string", 1024, False),
    "expires_at": ("integer", None, True),
    "refresh_token": ("string", 1024, True),
    "account_id": ("string", 320, False),
    "account_email": ("string", 320, False),
}
ACCESS_TOKEN_COLUMNS = {
    "token": ("string", 43, False),
    "created_at": ("timestamp", None, False),
    "user_id": (UUID_KIND, None, False),
}


@pytest.mark.parametrize(
    ("table", "expected"),
    [("user", USER_COLUMNS), ("oauth_account", OAUTH_ACCOUNT_COLUMNS), ("accesstoken", ACCESS_TOKEN_COLUMNS)],
)
async def test_columns_match_the_contract(db: SessionMaker, table: str, expected: dict[str, Any]) -> None:
    """Column names, kinds, lengths and nullability are those of fastapi-users-db-sqlalchemy 7."""
    async with engine_of(db).connect() as connection:
        columns = await connection.run_sync(reflect, table)

    assert columns == expected


async def test_primary_keys_foreign_keys_and_indexes(db: SessionMaker) -> None:
    """Keys, the contract's index names, the provider-account unique constraint and cascading user_id."""

    def read(connection: Connection) -> dict[str, Any]:
        inspector = inspect(connection)
        return {
            "pk": {
                t: inspector.get_pk_constraint(t)["constrained_columns"]
                for t in ("user", "oauth_account", "accesstoken")
            },
            "oauth_indexes": {i["name"] for i in inspector.get_indexes("oauth_account")},
            "token_indexes": {i["name"] for i in inspector.get_indexes("accesstoken")},
            "unique": [
                (u["name"], sorted(u["column_names"])) for u in inspector.get_unique_constraints("oauth_account")
            ],
            "fks": {
                t: [
                    (f["constrained_columns"], f["referred_table"], f["options"].get("ondelete", "").lower())
                    for f in inspector.get_foreign_keys(t)
                ]
                for t in ("oauth_account", "accesstoken")
            },
        }

    async with engine_of(db).connect() as connection:
        schema = await connection.run_sync(read)

    assert schema["pk"] == {"user": ["id"], "oauth_account": ["id"], "accesstoken": ["token"]}
    assert {"ix_oauth_account_oauth_name", "ix_oauth_account_account_id", "ix_oauth_account_user_id"} <= schema[
        "oauth_indexes"
    ]
    assert {"ix_accesstoken_created_at", "ix_accesstoken_user_id"} <= schema["token_indexes"]
    assert schema["unique"] == [("uq_oauth_account_provider_account", ["account_id", "oauth_name"])]
    assert schema["fks"] == {
        "oauth_account": [(["user_id"], "user", "cascade")],
        "accesstoken": [(["user_id"], "user", "cascade")],
    }


async def test_email_index_is_case_insensitive_in_the_schema(db: SessionMaker) -> None:
    """lower(email) expression index on PostgreSQL and SQLite; no-pad _ci collation + unique index on MariaDB."""
    engine = engine_of(db)
    async with engine.connect() as connection:
        dialect = connection.dialect.name
        if dialect == "postgresql":
            result = await connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE tablename = 'user' AND indexname = 'ix_user_email'")
            )
            ddl = result.scalar_one()
            assert ddl.startswith("CREATE UNIQUE INDEX ix_user_email")
            assert "lower((email)::text)" in ddl
        elif dialect == "sqlite":
            result = await connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_user_email'"))
            assert result.scalar_one() == "CREATE UNIQUE INDEX ix_user_email ON user (lower(email))"
        else:
            result = await connection.execute(
                text(
                    "SELECT collation_name FROM information_schema.columns"
                    " WHERE table_schema = DATABASE() AND table_name = 'user' AND column_name = 'email'"
                )
            )
            assert result.scalar_one() == "utf8mb4_uca1400_nopad_as_ci"
            result = await connection.execute(
                text(
                    "SELECT index_name, non_unique, column_name FROM information_schema.statistics"
                    " WHERE table_schema = DATABASE() AND table_name = 'user' AND index_name LIKE 'ix_user_email%'"
                )
            )
            assert result.all() == [("ix_user_email_ci", 0, "email")]


async def test_database_itself_refuses_an_email_differing_only_in_case(db: SessionMaker) -> None:
    """A raw INSERT that bypasses the adapter still hits the case-insensitive unique index."""
    async with engine_of(db).connect() as connection:
        row = {"email": "Arthur@camelot.bt", "hashed_password": "h", "is_active": True}
        row |= {"is_superuser": False, "is_verified": False}
        await connection.execute(insert(User), [{"id": uuid.uuid4(), **row}])
        await connection.commit()

        with pytest.raises(IntegrityError):
            await connection.execute(insert(User), [{**row, "id": uuid.uuid4(), "email": "aRTHUR@camelot.bt"}])


async def test_get_by_email_is_served_by_the_email_index(db: SessionMaker) -> None:
    """The query plan of the exact statement get_by_email issues uses the e-mail index on every database."""
    engine = engine_of(db)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        for name in ("arthur", "kay", "ector", "gawain"):
            await user_db.create({"email": f"{name}@camelot.bt", "hashed_password": "h"})

        sync_engine: Engine = engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", capture)
        try:
            found = await user_db.get_by_email("Kay@Camelot.bt")
        finally:
            event.remove(sync_engine, "before_cursor_execute", capture)
        assert found is not None
        statement, parameters = captured[-1]

        dialect = engine.dialect.name
        if dialect == "postgresql":
            # A tiny table would be scanned sequentially; forbid that so the plan shows the
            # index the planner *can* use for this statement.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            explain = "EXPLAIN "
        elif dialect == "sqlite":
            explain = "EXPLAIN QUERY PLAN "
        else:
            explain = "EXPLAIN "
        connection = await session.connection()
        rows = [tuple(row) for row in await connection.exec_driver_sql(explain + statement, parameters)]

    plan = "\n".join(" | ".join(str(value) for value in row) for row in rows)
    if dialect == "postgresql":
        assert "ix_user_email" in plan, plan
        assert 'Seq Scan on "user"' not in plan, plan
    elif dialect == "sqlite":
        assert "SEARCH user USING INDEX ix_user_email (<expr>=?)" in plan, plan
    else:
        # MariaDB's EXPLAIN: id | select_type | table | type | possible_keys | key | ...
        user_row = next(row for row in rows if row[2] == "user")
        assert user_row[5] == "ix_user_email_ci", plan
