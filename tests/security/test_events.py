"""Security events (T47, ASVS 5.0 16.2/16.3): typed, stored, readable by their owner, never secret."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from starlette.requests import Request

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.security import (
    SECURITY_LOGGER_NAME,
    SecurityEvent,
    SecurityEventOutcome,
    SecurityEventType,
)
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User
from tests.security.events_support import (
    SecurityEventRow,
    app_for,
    bearer,
    client_for,
    create_event_table,
    drop_event_table,
    login,
    register,
)

EMAIL = "tristan@camelot.bt"
PASSWORD = "isolde-of-ireland-42"
NEW_PASSWORD = "cornwall-by-the-sea-77"


async def stored_rows(session_maker: SessionMaker) -> list[SecurityEventRow]:
    """Every stored event, oldest first."""
    async with session_maker() as session:
        result = await session.execute(select(SecurityEventRow).order_by(SecurityEventRow.__table__.c.created_at))
        return list(result.scalars().all())


async def test_every_flow_emits_its_event(http_db: SessionMaker, caplog: pytest.LogCaptureFixture) -> None:
    """T47: each flow stores a typed event with UTC time, user id, IP, agent and outcome; none holds a secret."""
    await create_event_table(http_db)
    test_app = app_for(http_db, security_event_table=SecurityEventRow)
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER_NAME)
    async with client_for(test_app.app) as client:
        created = await register(client, EMAIL, PASSWORD)
        failed = await login(client, EMAIL, "wrong-" + PASSWORD)
        unknown = await login(client, "nobody@camelot.bt", PASSWORD)
        auth = await bearer(client, EMAIL, PASSWORD)
        await client.post("/auth/request-verify-token", json={"email": EMAIL})
        verify_token = test_app.hooks.last("on_after_request_verify")["token"]
        await client.post("/auth/verify", json={"token": verify_token})
        await client.patch("/users/me", json={"first_name": "Tristan"}, headers=auth)
        await client.patch("/users/me", json={"password": NEW_PASSWORD}, headers=auth)
        await client.post("/auth/forgot-password", json={"email": EMAIL})
        reset_token = test_app.hooks.last("on_after_forgot_password")["token"]
        await client.post("/auth/reset-password", json={"token": reset_token, "password": PASSWORD})
        auth = await bearer(client, EMAIL, PASSWORD)
        await client.post("/auth/jwt/logout", headers=auth)
    rows = await stored_rows(http_db)

    assert (created.status_code, failed.status_code, unknown.status_code) == (201, 400, 400)
    types = [row.type for row in rows]
    for expected in SecurityEventType.REGISTERED, SecurityEventType.LOGIN_FAILED, SecurityEventType.LOGIN_SUCCEEDED:
        assert expected.value in types
    assert types[-1] == SecurityEventType.LOGOUT.value
    assert {
        "verification_requested",
        "verification_completed",
        "user_updated",
        "password_changed",
        "password_reset_requested",
        "password_reset_completed",
    } <= set(types)
    user_id = created.json()["id"]
    failures = [row for row in rows if row.outcome == SecurityEventOutcome.FAILURE.value]
    assert [str(row.user_id) if row.user_id else None for row in failures] == [None, None]
    for row in rows:
        assert row.created_at.tzinfo is not None
        assert row.ip_address == "127.0.0.1"
        assert row.user_agent is not None
        assert row.user_agent.startswith("python-httpx/")
        assert row.user_id is None or str(row.user_id) == user_id
    secrets_used = [PASSWORD, NEW_PASSWORD, verify_token, reset_token, auth["Authorization"].split()[1]]
    stored_text = " ".join(repr(vars(row)) for row in rows)
    logged_text = " ".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    for secret in secrets_used:
        assert secret not in stored_text
        assert secret not in logged_text
    assert any(
        record.name == SECURITY_LOGGER_NAME and "login_succeeded" in record.getMessage() for record in caplog.records
    )


async def test_login_failure_for_a_known_user_is_stored_with_the_reason(http_db: SessionMaker) -> None:
    """An inactive user's login failure carries the user id and the reason ``bad_credentials``."""
    await create_event_table(http_db)
    test_app = app_for(http_db, security_event_table=SecurityEventRow)
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, PASSWORD)
        auth = await bearer(client, EMAIL, PASSWORD)
        me = (await client.get("/users/me", headers=auth)).json()
    async with http_db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        user = await user_db.get_by_email(EMAIL)
        assert user is not None
        await user_db.update(user, {"is_active": False})
    async with client_for(test_app.app) as client:
        refused = await login(client, EMAIL, PASSWORD)
    rows = await stored_rows(http_db)

    assert refused.status_code == 400
    last = rows[-1]
    assert (last.type, last.outcome, str(last.user_id)) == ("login_failed", "failure", me["id"])
    assert last.details == {"backend": "jwt", "reason": "bad_credentials"}


async def test_user_reads_their_own_recent_events(http_db: SessionMaker) -> None:
    """GET /users/me/security-events lists the caller's events, newest first, within ``limit``."""
    await create_event_table(http_db)
    test_app = app_for(http_db, security_event_table=SecurityEventRow)
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, PASSWORD)
        await register(client, "isolde@camelot.bt", PASSWORD)
        await login(client, EMAIL, "wrong-" + PASSWORD)
        auth = await bearer(client, EMAIL, PASSWORD)
        listed = await client.get("/users/me/security-events", headers=auth)
        limited = await client.get("/users/me/security-events", params={"limit": 1}, headers=auth)
        anonymous = await client.get("/users/me/security-events")
        too_many = await client.get("/users/me/security-events", params={"limit": 10_000}, headers=auth)

    assert listed.status_code == 200
    body = listed.json()
    assert [event["type"] for event in body] == ["login_succeeded", "registered"]
    assert set(body[0]) == {"type", "outcome", "created_at", "ip_address", "user_agent", "details"}
    assert body[0]["details"] == {"backend": "jwt"}
    assert datetime.fromisoformat(body[0]["created_at"]) >= datetime.fromisoformat(body[1]["created_at"])
    assert [event["type"] for event in limited.json()] == ["login_succeeded"]
    assert (anonymous.status_code, too_many.status_code) == (401, 422)


async def test_events_route_answers_404_without_storage(http_db: SessionMaker) -> None:
    """An app whose manager stores no events answers 404 on the events route."""
    test_app = app_for(http_db)
    test_app.app.include_router(test_app.fastapi_users.get_security_events_router(), prefix="/users")
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, PASSWORD)
        auth = await bearer(client, EMAIL, PASSWORD)
        response = await client.get("/users/me/security-events", headers=auth)

    assert response.status_code == 404


async def test_storage_failure_never_breaks_the_request(
    http_db: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """A missing events table is logged; register and login still succeed."""
    await drop_event_table(http_db)
    test_app = app_for(http_db, security_event_table=SecurityEventRow)
    async with client_for(test_app.app) as client:
        created = await register(client, EMAIL, PASSWORD)
        logged_in = await login(client, EMAIL, PASSWORD)
        me = await client.get("/users/me", headers={"Authorization": f"Bearer {logged_in.json()['access_token']}"})

    assert (created.status_code, logged_in.status_code, me.status_code) == (201, 200, 200)
    assert any("could not store security event" in record.getMessage() for record in caplog.records)
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)


def fake_request(headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None = ("10.0.0.7", 5000)) -> Request:
    """A bare Starlette request with these headers."""
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/", "headers": headers, "client": client}
    return Request(scope)


def test_event_from_request_cleans_client_text() -> None:
    """Control characters in the user agent become '?', and it is cut at 512 characters (no forged log lines)."""
    request = fake_request([(b"user-agent", b"evil\r\nsecurity event login_succeeded" + b"x" * 600)])

    event = SecurityEvent.from_request(SecurityEventType.LOGIN_FAILED, request, outcome=SecurityEventOutcome.FAILURE)

    assert event.ip_address == "10.0.0.7"
    assert event.user_agent is not None
    assert event.user_agent.startswith("evil??security event")
    assert len(event.user_agent) == 512
    assert event.created_at.tzinfo is UTC


def test_event_without_request_or_client() -> None:
    """Without a request, or a client address, the IP and agent are None."""
    assert SecurityEvent.from_request(SecurityEventType.LOGOUT, None).ip_address is None
    assert SecurityEvent.from_request(SecurityEventType.LOGOUT, fake_request([], client=None)).ip_address is None


@pytest.mark.parametrize("key", ["password", "new_password", "access_token", "Secret", "credentials"])
def test_event_refuses_secret_detail_keys(key: str) -> None:
    """A detail key naming a secret is refused at construction."""
    with pytest.raises(ValueError, match="never carry secrets"):
        SecurityEvent(SecurityEventType.PASSWORD_CHANGED, details={key: "x"})


def test_event_refuses_naive_time() -> None:
    """A naive ``created_at`` is refused (ASVS 16.2.1 asks for UTC)."""
    with pytest.raises(ValueError, match="timezone-aware"):
        SecurityEvent(SecurityEventType.LOGOUT, created_at=datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test


def test_event_as_dict_is_json_ready() -> None:
    """``as_dict`` gives strings for the enum values, the id and the time."""
    event = SecurityEvent(SecurityEventType.LOGOUT, user_id=7, created_at=datetime(2025, 1, 1, tzinfo=UTC))

    assert event.as_dict() == {
        "type": "logout",
        "outcome": "success",
        "user_id": "7",
        "created_at": "2025-01-01T00:00:00+00:00",
        "ip_address": None,
        "user_agent": None,
        "details": {},
    }
