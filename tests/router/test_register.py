"""Contract §2.2: ``POST /register``, and the duplicate-registration race on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from fastapi_userkit import InvalidPasswordException
from fastapi_userkit.security import SecuritySettings
from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker, database_url_for, reset_schema
from tests.models import Base
from tests.router.helpers import PASSWORD, client_for, count_users, create_user, fetch_user


async def reject_short(password: str, user: Any) -> None:
    """A password policy: at least 10 characters."""
    if len(password) < 10:
        raise InvalidPasswordException(reason="Password should be at least 10 characters")


def test_route_name(test_app: TestApp) -> None:
    """The register route is ``register:register``."""
    assert test_app.app.url_path_for("register:register") == "/auth/register"


async def test_register_creates_user(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A registration answers 201 with the user schema, the e-mail domain lower-cased, and calls the hook."""
    response = await client.post(
        "/auth/register", json={"email": "Arthur@Camelot.BT", "password": PASSWORD, "first_name": "Arthur"}
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "is_active", "is_superuser", "is_verified", "first_name"}
    assert uuid.UUID(body["id"])
    assert body["email"] == "Arthur@camelot.bt"
    assert (body["is_active"], body["is_superuser"], body["is_verified"]) == (True, False, False)
    assert body["first_name"] == "Arthur"
    assert "password" not in response.text
    assert str(test_app.hooks.last("on_after_register")["user"].id) == body["id"]


async def test_register_ignores_privileged_flags(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """is_superuser, is_verified and is_active sent to /register are ignored."""
    response = await client.post(
        "/auth/register",
        json={
            "email": "sneaky@example.com",
            "password": PASSWORD,
            "is_superuser": True,
            "is_verified": True,
            "is_active": False,
            "id": str(uuid.uuid4()),
        },
    )

    assert response.status_code == 201
    stored = await fetch_user(test_app, "sneaky@example.com")
    assert stored is not None
    assert (stored.is_active, stored.is_superuser, stored.is_verified) == (True, False, False)
    assert str(stored.id) == response.json()["id"]


@pytest.mark.parametrize("email", ["user@example.com", "USER@EXAMPLE.COM", "User@Example.com"])
async def test_register_existing_email(test_app: TestApp, client: httpx.AsyncClient, email: str) -> None:
    """An e-mail already registered, in any letter case, is REGISTER_USER_ALREADY_EXISTS."""
    await create_user(test_app, "user@example.com")

    response = await client.post("/auth/register", json={"email": email, "password": PASSWORD})

    assert (response.status_code, response.json()) == (400, {"detail": "REGISTER_USER_ALREADY_EXISTS"})
    assert await count_users(test_app) == 1


async def test_register_invalid_password(http_db: SessionMaker) -> None:
    """A password refused by validate_password is REGISTER_INVALID_PASSWORD with the policy's reason."""
    test_app = make_app(http_db, validate_password=reject_short)

    async with client_for(test_app.app) as client:
        response = await client.post("/auth/register", json={"email": "user@example.com", "password": "short"})

    assert response.status_code == 400
    assert response.json() == {
        "detail": {"code": "REGISTER_INVALID_PASSWORD", "reason": "Password should be at least 10 characters"}
    }
    assert await count_users(test_app) == 0


async def test_invalid_password_wins_over_duplicate(http_db: SessionMaker) -> None:
    """When the password is invalid and the e-mail taken, the password error is answered (FastAPI Users' order)."""
    test_app = make_app(http_db, validate_password=reject_short)
    await create_user(test_app)

    async with client_for(test_app.app) as client:
        response = await client.post("/auth/register", json={"email": "user@example.com", "password": "short"})

    assert response.json()["detail"]["code"] == "REGISTER_INVALID_PASSWORD"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "user@example.com"},
        {"password": PASSWORD},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": None, "password": PASSWORD},
        {"email": "user@example.com", "password": None},
        {"email": "user@example.com", "password": PASSWORD, "is_superuser": "maybe"},
        [],
        "user@example.com",
    ],
    ids=["empty", "no-password", "no-email", "bad-email", "null-email", "null-password", "bad-flag", "list", "str"],
)
async def test_register_invalid_body(test_app: TestApp, client: httpx.AsyncClient, body: Any) -> None:
    """A body that does not fit the create schema is a 422 and creates nothing."""
    response = await client.post("/auth/register", json=body)

    assert response.status_code == 422
    assert await count_users(test_app) == 0


async def test_concurrent_duplicate_registrations(tmp_path: Path) -> None:
    """20 overlapping registrations of one e-mail in different cases: one 201, nineteen 400s, one row."""
    url = await database_url_for("postgresql", tmp_path)
    # A real pool (not the tests' NullPool), large enough that every request holds its own
    # connection at the same time.
    engine = create_async_engine(url, pool_size=20, max_overflow=0, pool_timeout=10)
    try:
        await reset_schema(engine, Base.metadata)
        barrier = asyncio.Barrier(20)

        async def wait_for_everyone(password: str, user: Any) -> None:
            # validate_password runs before the e-mail check: releasing all 20 requests at once
            # makes each one pass the check before any insert commits, so the database decides.
            await barrier.wait()

        # Rate limiting off: 19 failed registrations of one address from one client would
        # rightly start answering 429, and this test is about what the database decides.
        test_app = make_app(
            async_sessionmaker(engine, expire_on_commit=False),
            validate_password=wait_for_everyone,
            security=SecuritySettings(rate_limit=None),
        )
        emails = [
            "".join(c.upper() if (i >> n) & 1 else c for n, c in enumerate("racer@example.com")) for i in range(20)
        ]
        assert len(set(emails)) == 20

        async with client_for(test_app.app) as client, asyncio.timeout(60):
            responses = await asyncio.gather(
                *(client.post("/auth/register", json={"email": email, "password": PASSWORD}) for email in emails)
            )

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [400] * 19, [r.text for r in responses if r.status_code not in (201, 400)]
        assert all(r.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"} for r in responses if r.status_code == 400)
        assert await count_users(test_app) == 1
        assert test_app.hooks.names().count("on_after_register") == 1
    finally:
        await engine.dispose()
