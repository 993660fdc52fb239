"""The tables FastAPI Users 15 creates (fastapi-users-db-sqlalchemy 7), for preflight tests.

Column for column what ``SQLAlchemyBaseUserTableUUID`` and ``SQLAlchemyBaseAccessTokenTableUUID``
of fastapi-users-db-sqlalchemy declare: a unique index ``ix_user_email`` on the bare column
(case-sensitive on SQLite and PostgreSQL), tokens stored as issued. On MariaDB the e-mail column
gets a binary collation, as in a database whose default collation is one, so that case
duplicates can exist there too.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, MetaData, String, Table, insert, text
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_userkit.db import GUID
from tests.conftest import _schemas
from tests.models import Base, IntBase

metadata = MetaData()

users = Table(
    "user",
    metadata,
    Column("id", GUID, primary_key=True),
    Column(
        "email",
        String(320).with_variant(mysql.VARCHAR(320, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"),
        unique=True,
        index=True,
        nullable=False,
    ),
    Column("hashed_password", String(1024), nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("is_superuser", Boolean, nullable=False),
    Column("is_verified", Boolean, nullable=False),
)

access_tokens = Table(
    "accesstoken",
    metadata,
    Column("token", String(43), primary_key=True),
    Column("created_at", DateTime(timezone=True), index=True, nullable=False),
    Column("user_id", GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False),
)


async def create(engine: AsyncEngine, *, with_tokens: bool = True) -> None:
    """Replace whatever the database holds by FastAPI Users' empty tables."""
    _schemas.pop(engine.url.render_as_string(hide_password=False), None)  # the next test rebuilds its own
    async with engine.begin() as connection:
        for known in (Base.metadata, IntBase.metadata, metadata):
            await connection.run_sync(known.drop_all)
        await connection.run_sync(metadata.create_all, tables=[users, access_tokens] if with_tokens else [users])


async def add_user(engine: AsyncEngine, email: str, *, active: bool = True, verified: bool = False) -> uuid.UUID:
    """Insert a user row as FastAPI Users writes it; its id."""
    user_id = uuid.uuid4()
    row: dict[str, Any] = {
        "id": user_id,
        "email": email,
        "hashed_password": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "is_active": active,
        "is_superuser": False,
        "is_verified": verified,
    }
    async with engine.begin() as connection:
        await connection.execute(insert(users).values(row))
    return user_id


async def add_token(engine: AsyncEngine, user_id: uuid.UUID, token: str, created_at: datetime) -> None:
    """Insert an access-token row as FastAPI Users' DatabaseStrategy writes it (the token itself)."""
    async with engine.begin() as connection:
        await connection.execute(insert(access_tokens).values(token=token, created_at=created_at, user_id=user_id))


async def build_email_index(engine: AsyncEngine) -> None:
    """Build what the upgrade builds for e-mails: ``lower(email)`` unique, or MariaDB's collation.

    Raises:
        sqlalchemy.exc.IntegrityError: Two addresses are one for that index.
    """
    async with engine.begin() as connection:
        if engine.dialect.name in {"mysql", "mariadb"}:
            statement = (
                "ALTER TABLE user MODIFY email VARCHAR(320)"
                " CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_nopad_as_ci NOT NULL"
            )
        else:
            statement = 'CREATE UNIQUE INDEX probe_email_lower ON "user" (lower(email))'
        await connection.execute(text(statement))
