"""Edges of the login challenge and of the two-factor settings (issue 18)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mfa import MFA, SQLAlchemyChallengeStore
from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.mfa.conftest import KEY, Clock, code_at
from tests.mfa.http_support import (
    EMAIL,
    answer,
    bearer_token,
    challenge_token,
    clear_rate_limits,
    enrol,
    mfa_app,
    sql_mfa,
)
from tests.models import MFAChallenge, TOTPFactor, User
from tests.router.helpers import client_for, create_user


@pytest.fixture
async def test_app(db: SessionMaker, clock: Clock) -> TestApp:
    """The two-factor app with one user, on every database."""
    await clear_rate_limits(db)
    app = mfa_app(db, clock)
    await create_user(app, EMAIL)
    return app


@pytest.fixture
async def client(test_app: TestApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``test_app``."""
    async with client_for(test_app.app) as client:
        yield client


async def test_a_challenge_of_a_deactivated_user_is_invalid(
    client: httpx.AsyncClient, clock: Clock, test_app: TestApp
) -> None:
    """The user deactivated between the password and the code: MFA_CHALLENGE_INVALID, not a token."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    async with test_app.session_maker() as session:
        await session.execute(update(User).values(is_active=False))
        await session.commit()
    clock.advance(30)
    response = await answer(client, token, code_at(enrolled.secret, clock.now))
    assert (response.status_code, response.json()) == (400, {"detail": "MFA_CHALLENGE_INVALID"})


async def test_a_factor_removed_after_the_password_ends_the_challenge(
    client: httpx.AsyncClient, clock: Clock, test_app: TestApp
) -> None:
    """A superuser or the CLI removed the factor meanwhile: MFA_CHALLENGE_INVALID (log in again)."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    async with test_app.session_maker() as session:
        await session.execute(delete(TOTPFactor))
        await session.commit()
    clock.advance(30)
    response = await answer(client, token, code_at(enrolled.secret, clock.now))
    assert (response.status_code, response.json()) == (400, {"detail": "MFA_CHALLENGE_INVALID"})


async def _any_user_id(test_app: TestApp) -> Any:
    async with test_app.session_maker() as session:
        return (await session.execute(select(User.id))).scalars().first()  # type: ignore[call-overload]


async def test_expired_challenges_are_purged(db: SessionMaker, clock: Clock, test_app: TestApp) -> None:
    """delete_expired() removes expired challenges only; create() removes the user's expired ones."""
    user_id = await _any_user_id(test_app)
    async with db() as session:
        store = SQLAlchemyChallengeStore(session, MFAChallenge)
        await store.create("a" * 43, user_id=user_id, backend="jwt", now=clock.now, lifetime=timedelta(seconds=10))
        await store.create("b" * 43, user_id=user_id, backend="jwt", now=clock.now, lifetime=timedelta(seconds=100))
        assert await store.delete_expired(clock.now + timedelta(seconds=50)) == 1
        await store.create(
            "c" * 43, user_id=user_id, backend="jwt", now=clock.now + timedelta(seconds=200), lifetime=timedelta(1)
        )
        count = (await session.execute(select(func.count()).select_from(MFAChallenge))).scalar_one()
    assert count == 1


@pytest.mark.parametrize(
    "options",
    [
        {"challenge_lifetime": 0},
        {"challenge_lifetime": 301},
        {"challenge_attempts": 6},
        {"step_up_within": 0},
        {"issuer": "a:b"},
        {"window": 2},
        {"recovery_code_count": 9},
        {"secrets": "short"},
    ],
)
def test_bad_settings_fail_at_construction(options: dict[str, Any]) -> None:
    """A lifetime, attempt count, age, issuer, window, code count or key out of range fails at start-up."""

    async def dependency() -> None:
        return None

    settings: dict[str, Any] = {
        "secrets": KEY,
        "get_store": dependency,
        "get_challenge_store": dependency,
        "issuer": "Camelot",
        **options,
    }
    with pytest.raises(ConfigurationError):
        MFA(**settings)


async def test_a_verified_only_router_documents_403(db: SessionMaker, clock: Clock) -> None:
    """get_mfa_router(requires_verification=True) refuses unverified users with 403, as documented."""
    test_app = mfa_app(db, clock)
    app = FastAPI()
    app.include_router(test_app.fastapi_users.get_mfa_router(requires_verification=True), prefix="/users")
    await create_user(test_app, EMAIL)
    async with client_for(test_app.app) as client:
        headers = await bearer_token(client)
    async with client_for(app) as client:
        status = await client.get("/users/me/mfa", headers=headers)
        openapi = (await client.get("/openapi.json")).json()
    assert status.status_code == 403
    assert "403" in openapi["paths"]["/users/me/mfa"]["get"]["responses"]
    assert sql_mfa(db, clock).step_up_within == 300
