"""What a login with a second factor costs next to one without (issue 18, item 8).

One process, SQLite file, the default ``PasswordHelper`` (Argon2id t=3, m=64 MiB, p=4), JWT over
Bearer, rate limiting off (the limiter would rightly stop a loop of logins from one address).
Two users: one with a confirmed TOTP factor, one without. Rounds alternate the two flows:

* ``password``: ``POST /auth/jwt/login`` -> 200 token (one request);
* ``two-factor``: ``POST /auth/jwt/login`` -> 202 challenge, ``POST /auth/jwt/mfa`` with the TOTP
  code -> 200 token (two requests; the client's typing time is not counted).

The two-factor settings' clock moves 30 s per round, so every round has a fresh TOTP step.
Wall time (``perf_counter``) and CPU time of the whole process (``process_time``: the event loop
and the hashing threads) per login; medians and the difference are printed.

    .venv/bin/python -m bench.mfa_login --rounds 40
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_userkit.mfa import (
    MFA,
    SQLAlchemyBaseMFAChallengeTableUUID,
    SQLAlchemyBaseRecoveryCodeTableUUID,
    SQLAlchemyBaseTOTPTableUUID,
    SQLAlchemyChallengeStore,
    SQLAlchemyMFAStore,
)
from fastapi_userkit.security import SecuritySettings

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
PASSWORD = "bench-passphrase-for-two-factor-0412"


class Base(DeclarativeBase):
    """The bench's tables."""


class User(SQLAlchemyBaseUserTableUUID, Base):
    """Users."""


class TOTPFactor(SQLAlchemyBaseTOTPTableUUID, Base):
    """TOTP factors."""


class RecoveryCode(SQLAlchemyBaseRecoveryCodeTableUUID, Base):
    """Recovery codes."""


class MFAChallenge(SQLAlchemyBaseMFAChallengeTableUUID, Base):
    """Login challenges."""


class Clock:
    """The two-factor settings' clock: a step per round, so codes are never replays."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def build(url: str, clock: Clock) -> tuple[FastAPI, async_sessionmaker[AsyncSession]]:
    """The documented app with two-factor login on."""
    engine = create_async_engine(url)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with session_maker() as session:
            yield session

    class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
        reset_password_token_secret = SECRET
        verification_token_secret = SECRET

    async def get_user_manager() -> AsyncIterator[UserManager]:
        async with session_maker() as session:
            yield UserManager(SQLAlchemyUserDatabase(session, User))

    async def get_store() -> AsyncIterator[SQLAlchemyMFAStore[TOTPFactor, RecoveryCode]]:
        async with session_maker() as session:
            yield SQLAlchemyMFAStore(session, TOTPFactor, RecoveryCode)

    async def get_challenges() -> AsyncIterator[SQLAlchemyChallengeStore[MFAChallenge]]:
        async with session_maker() as session:
            yield SQLAlchemyChallengeStore(session, MFAChallenge)

    backend: AuthenticationBackend[User, uuid.UUID] = AuthenticationBackend(
        "jwt", BearerTransport("auth/jwt/login"), lambda: JWTStrategy(SECRET, 3600)
    )
    mfa = MFA(secrets=[SECRET], get_store=get_store, get_challenge_store=get_challenges, issuer="Bench", clock=clock)
    fastapi_users = FastAPIUsers[User, uuid.UUID](
        get_user_manager, [backend], security=SecuritySettings(rate_limit=None), mfa=mfa
    )
    app = FastAPI()
    app.include_router(fastapi_users.get_auth_router(backend), prefix="/auth/jwt")
    app.include_router(fastapi_users.get_register_router(_read(), _create()), prefix="/auth")
    app.include_router(fastapi_users.get_mfa_router(), prefix="/users")
    return app, session_maker


def _read() -> type:
    from fastapi_userkit import schemas

    class UserRead(schemas.BaseUser[uuid.UUID]):
        pass

    return UserRead


def _create() -> type:
    from fastapi_userkit import schemas

    return schemas.BaseUserCreate


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url.path}: {response.status_code} {response.text}")


async def run(rounds: int) -> None:
    """Seed, warm up, then alternate the two flows ``rounds`` times and print the medians."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        app, session_maker = build(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", clock)
        engine = session_maker.kw["bind"]
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for email in ("plain@example.com", "totp@example.com"):
                _expect(await client.post("/auth/register", json={"email": email, "password": PASSWORD}), 201)
            login = await client.post("/auth/jwt/login", data={"username": "totp@example.com", "password": PASSWORD})
            _expect(login, 200)
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            secret = (await client.post("/users/me/mfa/totp", headers=headers)).json()["secret"]
            confirmed = await client.post(
                "/users/me/mfa/totp/confirm", json={"code": pyotp.TOTP(secret).at(clock.now)}, headers=headers
            )
            _expect(confirmed, 200)

            async def password_login() -> None:
                response = await client.post(
                    "/auth/jwt/login", data={"username": "plain@example.com", "password": PASSWORD}
                )
                _expect(response, 200)

            async def two_factor_login() -> None:
                clock.now += timedelta(seconds=30)
                challenge = await client.post(
                    "/auth/jwt/login", data={"username": "totp@example.com", "password": PASSWORD}
                )
                _expect(challenge, 202)
                response = await client.post(
                    "/auth/jwt/mfa",
                    json={
                        "challenge_token": challenge.json()["challenge_token"],
                        "code": pyotp.TOTP(secret).at(clock.now),
                    },
                )
                _expect(response, 200)

            samples: dict[str, tuple[list[float], list[float]]] = {"password": ([], []), "two-factor": ([], [])}
            flows = {"password": password_login, "two-factor": two_factor_login}
            for _ in range(3):  # warm-up
                await password_login()
                await two_factor_login()
            for index in range(rounds):
                order = ("password", "two-factor") if index % 2 == 0 else ("two-factor", "password")
                for name in order:
                    wall, cpu = time.perf_counter(), time.process_time()
                    await flows[name]()
                    samples[name][0].append((time.perf_counter() - wall) * 1000)
                    samples[name][1].append((time.process_time() - cpu) * 1000)
        await engine.dispose()
    print(f"rounds: {rounds} of each flow, alternated; medians per login")
    print(f"{'flow':<12} {'wall ms':>9} {'CPU ms':>9}")
    for name, (wall_ms, cpu_ms) in samples.items():
        print(f"{name:<12} {statistics.median(wall_ms):9.1f} {statistics.median(cpu_ms):9.1f}")
    extra_wall = statistics.median(samples["two-factor"][0]) - statistics.median(samples["password"][0])
    extra_cpu = statistics.median(samples["two-factor"][1]) - statistics.median(samples["password"][1])
    print(f"{'difference':<12} {extra_wall:+9.1f} {extra_cpu:+9.1f}")


def main() -> None:
    """Parse ``--rounds`` and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
