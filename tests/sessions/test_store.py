"""Session stores and the session service, below HTTP: every operation on SQL and Redis."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, cast

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from starlette.requests import Request

from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db._row_reader import NOT_READ, read_values_by_primary_key
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.sessions import InvalidRefreshToken, RefreshSettings, SessionRecord, SessionService, flow
from fastapi_userkit.sessions.service import client_details
from fastapi_userkit.sessions.tokens import digest, new_refresh_token
from tests.app_factory import SECRET, HookLog, fast_password_helper, make_user_manager_class
from tests.models import OAuthAccount, User, UserSession
from tests.sessions.conftest import StoreCase
from tests.sessions.harness import Clock, make_store


def _record(user_id: Any, clock: Clock, *, seconds: int = 3600) -> SessionRecord:
    return SessionRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        created_at=clock.now,
        last_used_at=clock.now,
        expires_at=clock.now + timedelta(seconds=seconds),
        ip_address="203.0.113.7",
        user_agent="Lynx/2.9",
        credential="c",
    )


async def _user_id(case: StoreCase, email: str = "arthur@camelot.bt") -> uuid.UUID:
    async with case.session_maker() as db:
        user = User(email=email, hashed_password="x")
        db.add(user)
        await db.commit()
        return user.id


async def test_store_round_trip(store_case: StoreCase, clock: Clock) -> None:
    """A stored session reads back field for field, with its first refresh token current."""
    record = _record(await _user_id(store_case), clock)

    await store_case.store.create(record, digest("root"))

    stored = await store_case.store.get(record.id)
    token = await store_case.store.get_refresh_token(digest("root"))
    assert stored is not None
    assert (str(stored.user_id), stored.created_at, stored.expires_at) == (
        str(record.user_id),
        record.created_at,
        record.expires_at,
    )
    assert (stored.ip_address, stored.user_agent, stored.credential) == ("203.0.113.7", "Lynx/2.9", "c")
    assert token is not None
    assert (token.session_id, token.rotated_at) == (record.id, None)
    assert await store_case.store.get(uuid.uuid4()) is None
    assert await store_case.store.get_refresh_token(digest("unknown")) is None


async def test_store_deletes(store_case: StoreCase, clock: Clock) -> None:
    """Deleting a session removes its tokens; deleting a user's sessions can keep one; unknown ids delete nothing."""
    user_id = await _user_id(store_case)
    keep, drop, other = _record(user_id, clock), _record(user_id, clock), _record(user_id, clock)
    for index, record in enumerate((keep, drop, other)):
        await store_case.store.create(record, digest(f"token-{index}"))

    assert await store_case.store.delete(other.id) is True
    assert await store_case.store.delete(other.id) is False
    assert await store_case.store.delete_for_user(user_id, keep=keep.id) == 1

    assert [session.id for session in await store_case.store.list_for_user(user_id)] == [keep.id]
    assert await store_case.store.get_refresh_token(digest("token-1")) is None
    assert await store_case.store.get_refresh_token(digest("token-2")) is None
    assert await store_case.store.list_for_user(uuid.uuid4()) == []


async def test_rotation_of_a_missing_session_fails(store_case: StoreCase, clock: Clock) -> None:
    """A rotation against an unknown session or a foreign token changes nothing."""
    record = _record(await _user_id(store_case), clock)
    await store_case.store.create(record, digest("root"))

    unknown = await store_case.store.rotate(
        uuid.uuid4(), digest("root"), digest("child"), now=clock.now, ip_address=None, user_agent=None
    )

    assert unknown is False
    assert (await store_case.store.get_refresh_token(digest("root"))) is not None
    assert await store_case.store.get_refresh_token(digest("child")) is None


async def test_sql_store_purges_expired_sessions(sql_case: StoreCase, clock: Clock) -> None:
    """``delete_expired`` removes sessions past their end or idle for too long, with their tokens."""
    store = sql_case.store
    assert isinstance(store, SQLAlchemySessionStore)
    user_id = await _user_id(sql_case)
    ended, idle = _record(user_id, clock, seconds=10), _record(user_id, clock)
    await store.create(ended, digest("ended"))
    await store.create(idle, digest("idle"))
    clock.advance(20)
    live = _record(user_id, clock)
    await store.create(live, digest("live"))

    purged = await store.delete_expired(clock.now, idle_before=clock.now - timedelta(seconds=5))

    assert purged == 2
    assert [session.id for session in await store.list_for_user(user_id)] == [live.id]
    assert await store.get_refresh_token(digest("ended")) is None
    assert await store.get_refresh_token(digest("live")) is not None


async def test_redis_index_forgets_expired_sessions(redis_case: StoreCase, clock: Clock) -> None:
    """A session key gone from Redis (expired) drops out of the user's index at the next listing."""
    store_case = redis_case
    assert store_case.redis_client is not None
    record = _record(await _user_id(store_case), clock)
    await store_case.store.create(record, digest("root"))
    store: Any = store_case.store
    await store_case.redis_client.delete(store._session_key(record.id))

    listed = await store_case.store.list_for_user(record.user_id)

    assert listed == []
    assert await store_case.redis_client.smembers(store._user_key(record.user_id)) == set()


async def test_session_with_an_unparsable_owner_is_refused(redis_case: StoreCase, clock: Clock) -> None:
    """A stored session whose user id does not parse (Redis keeps it as text) is refused and removed."""
    store_case = redis_case
    service = SessionService(RefreshSettings(store=store_case.store, secret=SECRET, clock=clock))
    token = new_refresh_token()
    record = _record("not-a-uuid", clock)
    await store_case.store.create(record, digest(token))
    async with store_case.session_maker() as db:
        manager = make_user_manager_class(HookLog())(
            SQLAlchemyUserDatabase(db, User, OAuthAccount), fast_password_helper()
        )

        with pytest.raises(InvalidRefreshToken):
            await service.rotate(token, manager, None)

    assert await store_case.store.get(record.id) is None


def _request(app: FastAPI, headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    scope = {"type": "http", "app": app, "headers": headers or [], "router": app.router, "client": None}
    return Request(scope)


def test_client_details_are_cleaned() -> None:
    """Control characters leave the stored user agent; a missing client or header is ``None``."""
    request = _request(FastAPI(), [(b"user-agent", b"evil\x1b[31m")])

    assert client_details(None) == (None, None)
    assert client_details(request) == (None, "evil?[31m")
    assert client_details(_request(FastAPI())) == (None, None)


async def test_flow_guards(store_case: StoreCase) -> None:
    """Malformed session ids are refused, custom strategies cannot bind tokens, and cookie paths resolve."""
    settings = RefreshSettings(store=store_case.store, secret=SECRET, cookie_path="/custom")
    service = SessionService(settings)

    class Malformed:
        def session_id_of(self, token: str) -> str:
            return "not-a-uuid"

    class Custom:
        async def write_token(self, user: Any) -> str:
            return "token"

    backend: Any = type("Backend", (), {"refresh": settings, "name": "unmounted"})()
    unmounted: Any = type(
        "Backend", (), {"refresh": RefreshSettings(store=store_case.store, secret=SECRET), "name": "x"}
    )()

    real_backend: Any = AuthenticationBackend(
        "custom", BearerTransport(tokenUrl="login"), get_strategy=cast(Any, Custom)
    )

    assert await flow.session_allows(service, "not-a-uuid", object()) is False
    assert flow.bound_session_id(Malformed(), "token") is None
    with pytest.raises(ConfigurationError):
        await flow.write_bound_token(real_backend, Custom(), object(), uuid.uuid4())
    assert flow.refresh_cookie(backend, _request(FastAPI()), 5).path == "/custom"
    with pytest.raises(ConfigurationError):
        flow.refresh_cookie(unmounted, _request(FastAPI()), 5)


async def test_sql_store_reads_the_session_row_through_the_driver_every_time(sql_case: StoreCase, clock: Clock) -> None:
    """Every request's session check reads the row itself (SQLite, PostgreSQL; MariaDB: the ORM), never a copy.

    The check runs on every request of a backend with sessions, so the store reads the row by
    primary key through the driver where it can. It must see each committed change at once: a
    session ended or shortened by another connection fails the very next check.
    """
    engine = sql_case.session_maker.kw["bind"]
    record = _record(await _user_id(sql_case), clock)
    await sql_case.store.create(record, digest("root"))

    values = await read_values_by_primary_key(engine, UserSession, record.id)
    if engine.dialect.name == "mysql":
        assert values is NOT_READ  # MariaDB takes the ORM path
    else:
        assert values is not NOT_READ
        assert (values["id"], str(values["user_id"]), values["expires_at"]) == (
            record.id,
            str(record.user_id),
            record.expires_at,
        )
    stored = await sql_case.store.get(record.id)
    assert stored is not None
    assert stored.expires_at == record.expires_at

    shorter = record.expires_at - timedelta(seconds=60)
    async with sql_case.session_maker() as db, db.begin():  # another connection commits a change
        await db.execute(update(UserSession).where(cast(Any, UserSession).id == record.id).values(expires_at=shorter))
    changed = await sql_case.store.get(record.id)
    assert changed is not None
    assert changed.expires_at == shorter

    assert await sql_case.store.delete(record.id)
    assert await sql_case.store.get(record.id) is None
    assert await read_values_by_primary_key(engine, UserSession, record.id) in (None, NOT_READ)


async def test_sql_store_falls_back_to_the_orm_query(sql_case: StoreCase, clock: Clock) -> None:
    """A session maker bound to a connection, or an engine that logs its SQL, gets the same record through the ORM."""
    record = _record(await _user_id(sql_case), clock)
    await sql_case.store.create(record, digest("root"))
    engine = sql_case.session_maker.kw["bind"]

    echoing = create_async_engine(engine.url, echo=True)
    try:
        assert await read_values_by_primary_key(echoing, UserSession, record.id) is NOT_READ
        stored = await make_store("sql", async_sessionmaker(echoing, expire_on_commit=False), None).get(record.id)
    finally:
        await echoing.dispose()
    assert stored is not None
    assert stored.id == record.id
    async with engine.connect() as connection:
        bound = make_store("sql", async_sessionmaker(connection, expire_on_commit=False), None)
        found = await bound.get(record.id)
        assert found is not None
        assert found.expires_at == record.expires_at
        assert await bound.get(uuid.uuid4()) is None
