"""The documented test app with two-factor login on, and the HTTP steps of its tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import inspect, text

from fastapi_userkit.mfa import MFA, ChallengeStore, SQLAlchemyChallengeStore, SQLAlchemyMFAStore
from fastapi_userkit.mfa.store import MFAStore
from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker
from tests.mfa.conftest import KEY, Clock, code_at
from tests.models import MFAChallenge, RecoveryCode, TOTPFactor
from tests.router.helpers import PASSWORD, bearer

EMAIL = "user@example.com"
RATE_LIMIT_TABLE = "userkit_rate_limit"


def sql_mfa(session_maker: SessionMaker, clock: Clock, **options: Any) -> MFA:
    """Two-factor settings over the test tables of ``session_maker``, on ``clock``."""

    async def get_store() -> AsyncIterator[MFAStore]:
        async with session_maker() as session:
            yield SQLAlchemyMFAStore(session, TOTPFactor, RecoveryCode)

    async def get_challenges() -> AsyncIterator[ChallengeStore]:
        async with session_maker() as session:
            yield SQLAlchemyChallengeStore(session, MFAChallenge)

    return MFA(
        secrets=[KEY], get_store=get_store, get_challenge_store=get_challenges, issuer="Camelot", clock=clock, **options
    )


def mfa_app(session_maker: SessionMaker, clock: Clock, **kwargs: Any) -> TestApp:
    """The documented app with ``FastAPIUsers(mfa=...)`` and ``/users/me/mfa``."""
    mfa = kwargs.pop("mfa", None) or sql_mfa(session_maker, clock)
    return make_app(session_maker, mfa=mfa, **kwargs)


async def clear_rate_limits(session_maker: SessionMaker) -> None:
    """Forget the limiter's counters (server databases live for the whole run)."""
    async with session_maker() as session:
        connection = await session.connection()
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        if RATE_LIMIT_TABLE in names:
            await session.execute(text(f"DELETE FROM {RATE_LIMIT_TABLE}"))  # noqa: S608 - a constant name
            await session.commit()


async def password_login(
    client: httpx.AsyncClient, backend: str = "jwt", email: str = EMAIL, password: str = PASSWORD
) -> httpx.Response:
    """``POST /auth/{backend}/login``."""
    return await client.post(f"/auth/{backend}/login", data={"username": email, "password": password})


async def bearer_token(client: httpx.AsyncClient, email: str = EMAIL) -> dict[str, str]:
    """Log in (the user has no factor yet) and return the ``Authorization`` header."""
    response = await password_login(client, email=email)
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


@dataclass
class Enrolled:
    """A user who enrolled TOTP: its secret and recovery codes."""

    secret: str
    recovery_codes: list[str]


async def enrol(client: httpx.AsyncClient, clock: Clock, headers: dict[str, str]) -> Enrolled:
    """Begin and confirm a TOTP enrolment at ``clock``'s time."""
    begun = await client.post("/users/me/mfa/totp", headers=headers)
    assert begun.status_code == 200, begun.text
    secret = begun.json()["secret"]
    confirmed = await client.post(
        "/users/me/mfa/totp/confirm", json={"code": code_at(secret, clock.now)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(secret, confirmed.json()["recovery_codes"])


async def answer(client: httpx.AsyncClient, token: str, code: str, backend: str = "jwt") -> httpx.Response:
    """``POST /auth/{backend}/mfa``."""
    return await client.post(f"/auth/{backend}/mfa", json={"challenge_token": token, "code": code})


async def challenge_token(client: httpx.AsyncClient, backend: str = "jwt", email: str = EMAIL) -> str:
    """Log in with the password alone and return the challenge token of the ``202``."""
    response = await password_login(client, backend, email)
    assert response.status_code == 202, response.text
    token: str = response.json()["challenge_token"]
    return token
