"""Refresh sessions keep the assurance of their sign-in; re-authentication updates it in place (issue 18).

On SQL sessions (SQLite, PostgreSQL, MariaDB) and Redis sessions.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import update

from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.jwt import decode_jwt
from fastapi_userkit.sessions import RedisSessionStore, SessionService
from fastapi_userkit.sessions.settings import RefreshSettings
from tests.app_factory import SECRET
from tests.models import UserSession
from tests.sessions.conftest import StoreCase
from tests.sessions.harness import Clock, RefreshHarness
from tests.strategies.apps import COOKIE_NAME

EMAIL = "gareth@camelot.bt"
PASSWORD = "a long passphrase"


def _claims(token: str) -> dict[str, Any]:
    return decode_jwt(token, SECRET, ["fastapi-users:auth"])


class _User:
    """What the session service reads of a user."""

    def __init__(self) -> None:
        self.id = uuid.uuid4()
        self.hashed_password = "argon2-hash-stand-in"
        self.is_active = True


async def test_the_store_keeps_the_sign_ins_assurance_and_a_reauthentication_replaces_it(
    store_case: StoreCase, clock: Clock
) -> None:
    """A session started at level 2 reads back at level 2; set_assurance changes only level and time."""
    service = SessionService(RefreshSettings(store=store_case.store, secret=SECRET, clock=clock))
    user = _User()
    if store_case.store_kind == "sql":
        user = await _sql_user(store_case)

    session, _ = await service.start(user, None, assurance=Assurance(2, 1_764_800_000))
    stored = await store_case.store.get(session.id)
    updated = await service.reauthenticated(session.id, Assurance(1, 1_764_900_000))
    after = await store_case.store.get(session.id)
    await service.end(session.id)
    ended = await service.reauthenticated(session.id, Assurance(2, 1_764_900_001))

    assert stored is not None
    assert (stored.aal, stored.auth_time) == (2, 1_764_800_000)
    assert stored.credential == service.credential(user.hashed_password)
    assert updated
    assert after is not None
    assert (after.aal, after.auth_time, after.credential) == (1, 1_764_900_000, stored.credential)
    assert not ended
    assert await store_case.store.get(session.id) is None  # an ended session stays ended


async def _sql_user(store_case: StoreCase) -> Any:
    from fastapi_userkit.db import SQLAlchemyUserDatabase
    from tests.models import User

    async with store_case.session_maker() as session:
        return await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).create(
            {"email": "lynette@camelot.bt", "hashed_password": "argon2-hash-stand-in"}
        )


async def test_a_session_stored_without_assurance_reads_as_level_one_at_an_unknown_time(
    store_case: StoreCase, clock: Clock
) -> None:
    """A session row or hash from before issue 18 (no level, no time) is level 1 and never fresh."""
    service = SessionService(RefreshSettings(store=store_case.store, secret=SECRET, clock=clock))
    user = await _sql_user(store_case) if store_case.store_kind == "sql" else _User()
    session, _ = await service.start(user, None, assurance=Assurance(2, 5))
    if isinstance(store_case.store, SQLAlchemySessionStore):
        async with store_case.session_maker() as db, db.begin():
            await db.execute(
                update(UserSession).where(cast(Any, UserSession).id == session.id).values(credential=session.credential)
            )
    else:
        assert store_case.redis_client is not None
        assert isinstance(store_case.store, RedisSessionStore)
        key = f"{store_case.store.key_prefix}session:{session.id}"
        await store_case.redis_client.hdel(key, "aal", "auth_time")

    old = await store_case.store.get(session.id)

    assert old is not None
    assert (old.aal, old.auth_time) == (1, None)
    assert await service.allows(session.id, user)


async def test_a_refresh_keeps_the_level_and_time_of_the_sign_in(harness: RefreshHarness) -> None:
    """Access tokens minted by refresh carry the session's aal and auth_time, never newer ones."""
    await harness.register(EMAIL)
    pair = await harness.login_pair("bearer", EMAIL)
    first = _claims(pair.access)
    harness.clock.advance(60)

    rotated = await harness.rotate(pair)
    again = await harness.rotate(rotated)

    assert first["aal"] == 1
    assert _claims(rotated.access)["auth_time"] == first["auth_time"]
    assert _claims(again.access)["auth_time"] == first["auth_time"]
    assert _claims(again.access)["aal"] == 1


async def test_a_level_two_session_mints_level_two_tokens_through_the_cookie_backend(harness: RefreshHarness) -> None:
    """A session at level 2 (a two-factor sign-in) hands level 2 and its time to every refreshed token."""
    await harness.register(EMAIL)
    pair = await harness.login_pair("cookie", EMAIL)
    sessions = harness.test_app.backends["cookie"].sessions
    assert sessions is not None
    await sessions.reauthenticated(uuid.UUID(_claims(pair.access)["sid"]), Assurance(2, 1_764_800_000))

    rotated = await harness.rotate(pair)

    assert (_claims(rotated.access)["aal"], _claims(rotated.access)["auth_time"]) == (2, 1_764_800_000)


async def test_reauthentication_updates_the_same_session(harness: RefreshHarness) -> None:
    """POST /reauthenticate keeps the session (one in the list, same id); later refreshes carry the new time."""
    await harness.register(EMAIL)
    pair = await harness.login_pair("bearer", EMAIL)
    user = await harness.user_by_email(EMAIL)
    session_id = uuid.UUID(_claims(pair.access)["sid"])
    # Make the session's sign-in old, as if it happened two hours ago.
    sessions = harness.test_app.backends["bearer"].sessions
    assert sessions is not None
    await sessions.reauthenticated(session_id, Assurance(1, 1_700_000_000))
    stale = (await harness.rotate(pair)).access

    response = await harness.client.post(
        "/auth/bearer/reauthenticate", json={"password": PASSWORD}, headers={"Authorization": f"Bearer {stale}"}
    )
    fresh = response.json()["access_token"]
    listed = await harness.client.get("/sessions", headers={"Authorization": f"Bearer {fresh}"})
    later = await harness.rotate(pair.__class__("bearer", fresh, (await _current_refresh(harness, pair))))
    stored = await harness.store.get(session_id)
    now = int(datetime.now(UTC).timestamp())

    assert _claims(stale)["auth_time"] == 1_700_000_000
    assert response.status_code == 200
    assert _claims(fresh)["sid"] == str(session_id)
    assert now - 60 <= _claims(fresh)["auth_time"] <= now
    assert [item["id"] for item in listed.json()] == [str(session_id)]
    assert _claims(later.access)["auth_time"] == _claims(fresh)["auth_time"]
    assert stored is not None
    assert stored.auth_time == _claims(fresh)["auth_time"]
    assert stored.user_id is not None
    assert str(stored.user_id) == str(user.id)


async def _current_refresh(harness: RefreshHarness, pair: Any) -> str:
    """The refresh token that is current after ``harness.rotate(pair)`` (rotation is deterministic)."""
    from fastapi_userkit.sessions.tokens import child_refresh_token

    return child_refresh_token(SECRET, pair.refresh)


async def test_reauthentication_through_the_cookie_backend_keeps_the_refresh_cookie(harness: RefreshHarness) -> None:
    """A cookie client gets a new access cookie for the same session; its refresh cookie is untouched."""
    await harness.register(EMAIL)
    pair = await harness.login_pair("cookie", EMAIL)

    response = await harness.client.post(
        "/auth/cookie/reauthenticate",
        json={"password": PASSWORD},
        headers={"Cookie": f"{COOKIE_NAME}={pair.access}"},
    )
    harness.client.cookies.clear()

    assert response.status_code == 204
    assert _claims(response.cookies[COOKIE_NAME])["sid"] == _claims(pair.access)["sid"]
    assert "fastapiusersrefresh" not in response.cookies
    assert await harness.refresh_status(pair) in {200, 204}
