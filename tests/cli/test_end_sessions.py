"""``deactivate`` and ``delete-user`` end a user's tokens for good (issue 16, item 8), on every database."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.authentication import DatabaseStrategy, RedisStrategy
from fastapi_userkit.cli import UserkitCLIConfig
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.exceptions import ConfigurationError
from tests.cli.cliapp import make_manager
from tests.cli.conftest import CLI
from tests.conftest import SessionMaker
from tests.models import AccessToken, User

PASSWORD = "correct-horse-battery-staple-42"


def _strategy(session: AsyncSession) -> DatabaseStrategy[User, uuid.UUID, AccessToken]:
    return DatabaseStrategy(SQLAlchemyAccessTokenDatabase(session, AccessToken))


async def _login(session_maker: SessionMaker, email: str) -> str:
    """A database token for the user, as a login through the app would issue it."""
    async with session_maker() as session:
        user = (await session.execute(select(User).where(cast(Any, User).email == email))).unique().scalar_one()
        return await _strategy(session).write_token(user)


async def _accepted(session_maker: SessionMaker, token: str) -> bool:
    async with session_maker() as session:
        return (
            await _strategy(session).read_token(token, make_manager(SQLAlchemyUserDatabase(session, User))) is not None
        )


async def _token_rows(session_maker: SessionMaker) -> int:
    async with session_maker() as session:
        return int((await session.execute(select(func.count()).select_from(AccessToken))).scalar_one())


def test_deactivate_then_activate_leaves_the_old_token_dead(cli: CLI) -> None:
    """After deactivate and activate, a database token issued before answers as unknown, and its row is gone."""
    cli("create-user", "--email", "kay@camelot.bt", "--password-stdin", input=PASSWORD)
    token = cli.query(lambda sm: _login(sm, "kay@camelot.bt"))
    assert cli.query(lambda sm: _accepted(sm, token))

    results = [cli("deactivate", "kay@camelot.bt"), cli("activate", "kay@camelot.bt")]

    assert [result.exit_code for result in results] == [0, 0]
    assert not cli.query(lambda sm: _accepted(sm, token))
    assert cli.query(_token_rows) == 0


def test_delete_user_deletes_the_user_and_its_tokens(cli: CLI) -> None:
    """delete-user --yes deletes the user and its token rows (SQLite included)."""
    cli("create-user", "--email", "kay@camelot.bt", "--password-stdin", input=PASSWORD)
    cli.query(lambda sm: _login(sm, "kay@camelot.bt"))

    result = cli("delete-user", "KAY@camelot.bt", "--yes")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Deleted kay@camelot.bt."
    assert cli.query(_token_rows) == 0


def test_delete_user_asks_first(cli: CLI) -> None:
    """Without --yes, delete-user asks; answering no deletes nothing; an unknown address fails cleanly."""
    cli("create-user", "--email", "kay@camelot.bt", "--password-stdin", input=PASSWORD)

    refused = cli("delete-user", "kay@camelot.bt", input="n\n")
    unknown = cli("delete-user", "nobody@camelot.bt", input="y\n")

    assert refused.exit_code == 1
    assert "Delete kay@camelot.bt and end all their sessions?" in refused.output
    assert unknown.exit_code == 1
    assert "Traceback" not in unknown.output
    assert cli("list-users").stdout.count("kay@camelot.bt") == 1


async def test_config_hands_its_strategies_and_stores_to_the_manager(db: SessionMaker) -> None:
    """session_strategies are built on the CLI's session and, with session_stores, join the manager's own."""
    store = object()
    redis_strategy = RedisStrategy[User, uuid.UUID](cast(Any, None))
    config = UserkitCLIConfig(
        user_model=User,
        session_maker=db,
        user_manager_factory=make_manager,
        session_strategies=lambda session: [redis_strategy, _strategy(session)],
        session_stores=[store],
    )
    plain = UserkitCLIConfig(user_model=User, session_maker=db)

    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User)
        manager = config.make_user_manager(user_db)
        plain_manager = plain.make_user_manager(user_db)

    assert manager.session_strategies[0] is redis_strategy
    database_strategy = manager.session_strategies[1]
    assert isinstance(database_strategy, DatabaseStrategy)
    assert isinstance(database_strategy.database, SQLAlchemyAccessTokenDatabase)
    assert database_strategy.database.session is session
    assert manager.session_stores == (store,)
    assert (plain_manager.session_strategies, plain_manager.session_stores) == ((), ())


async def test_config_takes_a_plain_list_of_strategies(db: SessionMaker) -> None:
    """session_strategies may be a list, as the manager takes them; anything else is refused at construction."""
    redis_strategy = RedisStrategy[User, uuid.UUID](cast(Any, None))
    config = UserkitCLIConfig(user_model=User, session_maker=db, session_strategies=[redis_strategy])

    async with db() as session:
        manager = config.make_user_manager(SQLAlchemyUserDatabase[User, uuid.UUID](session, User))

    assert manager.session_strategies == (redis_strategy,)
    assert config.ends_outside_sessions
    with pytest.raises(ConfigurationError):
        UserkitCLIConfig(user_model=User, session_maker=db, session_strategies=cast(Any, 42))


def test_commands_say_when_no_outside_store_is_configured(cli: CLI) -> None:
    """With the plain config, deactivate and delete-user warn on stderr that Redis tokens and such were not ended."""
    cli("create-user", "--email", "kay@camelot.bt", "--password-stdin", input=PASSWORD)

    results = [cli("deactivate", "kay@camelot.bt"), cli("delete-user", "kay@camelot.bt", "--yes")]

    assert [result.exit_code for result in results] == [0, 0]
    assert all("names no session_strategies or session_stores" in result.stderr for result in results)
