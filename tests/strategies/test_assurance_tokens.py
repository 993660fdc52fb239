"""Every strategy's tokens carry the assurance of their sign-in, and a client cannot alter it (issue 18)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal

import pytest
import redis.asyncio

from fastapi_userkit import BaseUserManager
from fastapi_userkit.authentication import DatabaseStrategy, JWTStrategy, RedisStrategy
from fastapi_userkit.authentication.assurance import UNKNOWN_ASSURANCE, Assurance
from fastapi_userkit.authentication.step_up import token_assurance
from fastapi_userkit.authentication.strategy._bound import backend_tag
from fastapi_userkit.authentication.strategy.base import AssuranceBoundStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.jwt import decode_jwt
from tests.app_factory import SECRET, HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import REDIS_PREFIX, SessionMaker
from tests.models import AccessToken, User

StrategyKind = Literal["jwt", "database", "redis"]
TAG = backend_tag("bearer")
Opened = tuple[AssuranceBoundStrategy[User, uuid.UUID], BaseUserManager[User, uuid.UUID]]
Opener = Callable[[], AbstractAsyncContextManager[Opened]]


async def _user(db: SessionMaker) -> User:
    async with db() as session:
        return await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).create(
            {"email": "enid@camelot.bt", "hashed_password": "argon2-hash-stand-in"}
        )


def _opener(kind: StrategyKind, db: SessionMaker, client: redis.asyncio.Redis) -> Opener:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Opened]:
        async with db() as session:
            manager = make_user_manager_class(HookLog())(SQLAlchemyUserDatabase(session, User), fast_password_helper())
            strategy: AssuranceBoundStrategy[User, uuid.UUID]
            if kind == "jwt":
                strategy = JWTStrategy(SECRET, 3600)
            elif kind == "database":
                strategy = DatabaseStrategy(SQLAlchemyAccessTokenDatabase(session, AccessToken), 3600)
            else:
                strategy = RedisStrategy(client, 3600, key_prefix=f"{REDIS_PREFIX}token:")
            yield strategy, manager

    return opened


@pytest.fixture(params=["jwt", "database", "redis"])
def open_strategy(request: pytest.FixtureRequest, db: SessionMaker, redis_client: redis.asyncio.Redis) -> Opener:
    """Opens a strategy of each kind, with a user manager, on every database."""
    return _opener(request.param, db, redis_client)


@pytest.mark.parametrize("assurance", [Assurance(2, 1_764_800_000), Assurance(1, 1_764_800_001), Assurance(2, None)])
async def test_the_assurance_round_trips(db: SessionMaker, open_strategy: Opener, assurance: Assurance) -> None:
    """A token written with an assurance is accepted and reads back with that level and time."""
    user = await _user(db)
    async with open_strategy() as (strategy, manager):
        token = await strategy.write_token(user, session_id=None, backend_tag=TAG, assurance=assurance)
        read = await strategy.read_token(token, manager)

        assert read is not None
        assert read.id == user.id
        assert strategy.assurance_of(token) == assurance
        assert strategy.backend_tag_of(token) == TAG
        assert token_assurance(strategy, token) == assurance


async def test_a_session_bound_token_keeps_session_tag_and_assurance(db: SessionMaker, open_strategy: Opener) -> None:
    """A token naming a session also names its backend and carries its assurance, all three readable."""
    user = await _user(db)
    session_id = str(uuid.uuid4())
    async with open_strategy() as (strategy, manager):
        token = await strategy.write_token(user, session_id=session_id, backend_tag=TAG, assurance=Assurance(2, 7))

        assert await strategy.read_token(token, manager) is not None
        assert strategy.session_id_of(token) == session_id
        assert strategy.backend_tag_of(token) == TAG
        assert strategy.assurance_of(token) == Assurance(2, 7)


async def test_tokens_written_without_assurance_read_as_level_one_never_fresh(
    db: SessionMaker, open_strategy: Opener
) -> None:
    """``write_token(user)`` (app code, or a token from before) reads as level 1 at an unknown time."""
    user = await _user(db)
    async with open_strategy() as (strategy, manager):
        plain = await strategy.write_token(user)
        tagged = await strategy.write_token(user, backend_tag=TAG)

        assert await strategy.read_token(plain, manager) is not None
        assert await strategy.read_token(tagged, manager) is not None
        assert strategy.assurance_of(plain) == UNKNOWN_ASSURANCE
        assert strategy.assurance_of(tagged) == UNKNOWN_ASSURANCE
        assert UNKNOWN_ASSURANCE.auth_time is None


@pytest.mark.parametrize("kind", ["database", "redis"])
async def test_an_opaque_token_with_a_raised_level_is_refused(
    db: SessionMaker, redis_client: redis.asyncio.Redis, kind: StrategyKind
) -> None:
    """Editing the level or time in an opaque token makes a token the store does not know."""
    user = await _user(db)
    async with _opener(kind, db, redis_client)() as (strategy, manager):
        token = await strategy.write_token(user, backend_tag=TAG, assurance=Assurance(1, 1_764_800_000))
        raised = token.replace("~1.", "~2.")
        younger = token.replace("1764800000", "1764899999")
        stripped = token.rpartition("~")[0]

        assert token.endswith(f"~{TAG}~1.1764800000")
        assert await strategy.read_token(token, manager) is not None
        assert await strategy.read_token(raised, manager) is None
        assert await strategy.read_token(younger, manager) is None
        assert await strategy.read_token(stripped, manager) is None


async def test_jwt_claims_are_aal_and_auth_time(db: SessionMaker) -> None:
    """A JWT carries ``aal`` and OpenID Connect's ``auth_time`` claims, signed with the rest."""
    user = await _user(db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)

    token = await strategy.write_token(user, backend_tag=TAG, assurance=Assurance(2, 1_764_800_000))
    claims = decode_jwt(token, SECRET, ["fastapi-users:auth"])
    unknown_time = await strategy.write_token(user, backend_tag=TAG, assurance=Assurance(2))

    assert claims["aal"] == 2
    assert claims["auth_time"] == 1_764_800_000
    assert "auth_time" not in decode_jwt(unknown_time, SECRET, ["fastapi-users:auth"])
    assert strategy.assurance_of(unknown_time) == Assurance(2, None)


async def test_jwt_with_a_claim_that_is_no_level_reads_as_unknown(db: SessionMaker) -> None:
    """A signed token whose ``aal`` is not 1 or 2 (or not an integer) reads as level 1 at an unknown time."""
    from fastapi_userkit.jwt import generate_jwt

    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    audience = ["fastapi-users:auth"]
    odd = [generate_jwt({"sub": "x", "aud": audience, "aal": value, "auth_time": 5}, SECRET, 60) for value in (3, True)]

    assert [strategy.assurance_of(token) for token in odd] == [UNKNOWN_ASSURANCE, UNKNOWN_ASSURANCE]
    assert strategy.assurance_of("not a jwt") == UNKNOWN_ASSURANCE


def test_an_opaque_assurance_segment_that_does_not_parse_reads_as_unknown() -> None:
    """A segment with a level that is no level, or no number, reads as level 1 at an unknown time."""
    from fastapi_userkit.authentication.strategy._opaque import assurance_of

    assert assurance_of("body.tag~backend~2.17") == Assurance(2, 17)
    assert assurance_of("body.tag~backend~9.17") == UNKNOWN_ASSURANCE
    assert assurance_of("body.tag~backend~two") == UNKNOWN_ASSURANCE
    assert assurance_of("body.tag~backend") == UNKNOWN_ASSURANCE
