"""SQLAlchemyAccessTokenDatabase on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from tests.conftest import SessionMaker
from tests.models import AccessToken, IntAccessToken, IntUser, User

TOKEN = "a" * 43
T0 = datetime(2026, 5, 17, 12, 0, 0, 250000, tzinfo=UTC)


async def make_user(session_maker: SessionMaker, email: str = "kay@camelot.bt") -> uuid.UUID:
    """Create a user and return its id."""
    async with session_maker() as session:
        user = await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).create(
            {"email": email, "hashed_password": "h"}
        )
        return user.id


async def tokens(session_maker: SessionMaker) -> list[str]:
    """The stored tokens, sorted, read in a fresh session."""
    async with session_maker() as session:
        result = await session.execute(select(AccessToken.__table__.c.token).order_by("token"))
        return list(result.scalars())


async def test_create_and_get_by_token(db: SessionMaker) -> None:
    """A created token is found by its value, with created_at defaulting to now (aware UTC)."""
    user_id = await make_user(db)
    async with db() as session:
        token_db = SQLAlchemyAccessTokenDatabase(session, AccessToken)
        before = datetime.now(UTC)

        created = await token_db.create({"token": TOKEN, "user_id": user_id})
        found = await token_db.get_by_token(TOKEN)

    assert found is created
    assert created.user_id == user_id
    assert created.created_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= created.created_at <= datetime.now(UTC) + timedelta(seconds=1)


async def test_get_by_token_of_unknown_or_unstorable_token_returns_none(db: SessionMaker) -> None:
    """An unknown token, an overlong one or one with a NUL byte finds nothing and never fails."""
    user_id = await make_user(db)
    async with db() as session:
        token_db = SQLAlchemyAccessTokenDatabase(session, AccessToken)
        await token_db.create({"token": TOKEN, "user_id": user_id})

        assert await token_db.get_by_token("b" * 43) is None
        assert await token_db.get_by_token(TOKEN + "a") is None
        assert await token_db.get_by_token(TOKEN[:-1] + "\x00") is None
        assert await token_db.get_by_token(TOKEN) is not None


async def test_get_by_token_honours_max_age(db: SessionMaker) -> None:
    """With max_age, a token created at or after it is found and an older one is not, to the microsecond."""
    user_id = await make_user(db)
    async with db() as session:
        token_db = SQLAlchemyAccessTokenDatabase(session, AccessToken)
        await token_db.create({"token": TOKEN, "user_id": user_id, "created_at": T0})

        assert await token_db.get_by_token(TOKEN, max_age=T0 - timedelta(microseconds=1)) is not None
        assert await token_db.get_by_token(TOKEN, max_age=T0) is not None
        assert await token_db.get_by_token(TOKEN, max_age=T0 + timedelta(microseconds=1)) is None


async def test_update_and_delete(db: SessionMaker) -> None:
    """update changes the row (created_at unchanged unless given) and delete removes it."""
    user_id = await make_user(db)
    other_id = await make_user(db, "ector@camelot.bt")
    async with db() as session:
        token_db = SQLAlchemyAccessTokenDatabase(session, AccessToken)
        token = await token_db.create({"token": TOKEN, "user_id": user_id, "created_at": T0})

        updated = await token_db.update(token, {"user_id": other_id})

        assert updated.user_id == other_id
        assert updated.created_at == T0
        await token_db.delete(updated)
        assert await token_db.get_by_token(TOKEN) is None

    assert await tokens(db) == []


async def test_delete_by_user_removes_only_that_users_tokens(db: SessionMaker) -> None:
    """delete_by_user deletes every token of one user, returns how many, and keeps the others."""
    user_id = await make_user(db)
    other_id = await make_user(db, "ector@camelot.bt")
    async with db() as session:
        token_db = SQLAlchemyAccessTokenDatabase(session, AccessToken)
        for token, owner in (("a", user_id), ("b", user_id), ("c", other_id)):
            await token_db.create({"token": token * 43, "user_id": owner})

        deleted = await token_db.delete_by_user(user_id)
        again = await token_db.delete_by_user(user_id)

    assert (deleted, again) == (2, 0)
    assert await tokens(db) == ["c" * 43]


async def test_delete_expired_removes_only_older_tokens(db: SessionMaker) -> None:
    """delete_expired deletes tokens created strictly before the cut-off and returns how many."""
    user_id = await make_user(db)
    async with db() as session:
        token_db = SQLAlchemyAccessTokenDatabase(session, AccessToken)
        ages = {"a": T0 - timedelta(days=2), "b": T0 - timedelta(microseconds=1), "c": T0, "d": T0 + timedelta(hours=1)}
        for token, created_at in ages.items():
            await token_db.create({"token": token * 43, "user_id": user_id, "created_at": created_at})

        deleted = await token_db.delete_expired(T0)

    assert deleted == 2
    assert await tokens(db) == ["c" * 43, "d" * 43]


async def test_integer_id_access_tokens(int_db: SessionMaker) -> None:
    """The generic table works with an integer user id."""
    async with int_db() as session:
        user = await SQLAlchemyUserDatabase[IntUser, int](session, IntUser).create(
            {"email": "kay@camelot.bt", "hashed_password": "h"}
        )
        # IntAccessToken declares user_id with @declared_attr alone (FastAPI Users' documented style).
        token_db = SQLAlchemyAccessTokenDatabase(session, IntAccessToken)
        await token_db.create({"token": TOKEN, "user_id": user.id})

        found = await token_db.get_by_token(TOKEN)
        deleted = await token_db.delete_by_user(user.id)
        remaining = await session.execute(select(func.count()).select_from(IntAccessToken))

    assert found is not None
    assert found.user_id == user.id
    assert deleted == 1
    assert remaining.scalar_one() == 0
