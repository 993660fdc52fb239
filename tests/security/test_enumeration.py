"""Enumeration-safe flows (ASVS 5.0 6.3.8): same answer, same time, whether the address has an account.

Timing is measured where the client would see it: when the last byte of the response leaves
the app (an ASGI ``send`` wrapper), not when httpx's in-process transport returns, since that
transport also waits for the background tasks that run after the response. Samples of the two
cases are interleaved and compared through medians with generous margins, so a noisy shared
machine does not make the tests flaky, while a 200 ms hook or a skipped hash still shows.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi.security import OAuth2PasswordRequestForm
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_userkit import InvalidPasswordException
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.password import PasswordHelper
from tests.app_factory import HookLog, UserCreate, make_user_manager_class
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User
from tests.security.events_support import app_for, client_for, login, register

HOOK_DELAY = 0.2
KNOWN = "gawain@camelot.bt"
UNKNOWN = "nobody@camelot.bt"
PASSWORD = "green-knight-1357"


class ResponseClock:
    """ASGI middleware recording how long each response took to be sent in full."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.samples: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request until its final body message is sent."""
        start = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.samples.append(time.perf_counter() - start)

        await self.app(scope, receive, timed_send)


async def interleaved(
    first: Callable[[], Awaitable[float]], second: Callable[[], Awaitable[float]], rounds: int
) -> tuple[list[float], list[float]]:
    """Run ``first`` and ``second`` alternately ``rounds`` times each; return their timings."""
    a_times: list[float] = []
    b_times: list[float] = []
    for index in range(rounds):
        pair = (first, second) if index % 2 == 0 else (second, first)
        for call in pair:
            (a_times if call is first else b_times).append(await call())
    return a_times, b_times


async def timed_post(client: httpx.AsyncClient, clock: ResponseClock, path: str, json: dict[str, Any]) -> float:
    """POST and return the time the app took to send the response (202 expected)."""
    response = await client.post(path, json=json)
    assert response.status_code == 202, response.text
    return clock.samples[-1]


async def test_forgot_password_answers_identically(http_db: SessionMaker) -> None:
    """T15: known, unknown and inactive addresses get the same status, body and headers."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        await register(client, KNOWN, PASSWORD)
        await register(client, "inactive@camelot.bt", PASSWORD)
        async with http_db() as session:
            db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
            inactive = await db.get_by_email("inactive@camelot.bt")
            assert inactive is not None
            await db.update(inactive, {"is_active": False})
        answers = [
            await client.post("/auth/forgot-password", json={"email": email})
            for email in (KNOWN, UNKNOWN, "inactive@camelot.bt")
        ]

    assert {(r.status_code, r.content, tuple(sorted(r.headers.items()))) for r in answers} == {
        (202, b"null", tuple(sorted(answers[0].headers.items())))
    }
    assert [call["user"].email for name, call in test_app.hooks.calls if name == "on_after_forgot_password"] == [KNOWN]


async def test_forgot_password_hook_runs_after_the_response(http_db: SessionMaker) -> None:
    """A reset hook that sleeps 200 ms does not delay the known address's response."""
    test_app = app_for(http_db, hook_delay_seconds=HOOK_DELAY)
    clock = ResponseClock(test_app.app)
    async with client_for(clock) as client:  # type: ignore[arg-type]  # an ASGI app, not a FastAPI one
        await register(client, KNOWN, PASSWORD)
        known, unknown = await interleaved(
            lambda: timed_post(client, clock, "/auth/forgot-password", {"email": KNOWN}),
            lambda: timed_post(client, clock, "/auth/forgot-password", {"email": UNKNOWN}),
            rounds=8,
        )

    assert len(test_app.hooks.names()) == 1 + 8  # register, then one reset e-mail per known request
    assert statistics.median(known) < HOOK_DELAY / 2
    assert abs(statistics.median(known) - statistics.median(unknown)) < HOOK_DELAY / 4


async def test_request_verify_token_hook_runs_after_the_response(http_db: SessionMaker) -> None:
    """A verification hook that sleeps 200 ms does not delay the known address's response."""
    test_app = app_for(http_db, hook_delay_seconds=HOOK_DELAY)
    clock = ResponseClock(test_app.app)
    async with client_for(clock) as client:  # type: ignore[arg-type]  # an ASGI app, not a FastAPI one
        await register(client, KNOWN, PASSWORD)
        known, unknown = await interleaved(
            lambda: timed_post(client, clock, "/auth/request-verify-token", {"email": KNOWN}),
            lambda: timed_post(client, clock, "/auth/request-verify-token", {"email": UNKNOWN}),
            rounds=8,
        )

    assert test_app.hooks.names().count("on_after_request_verify") == 8
    assert statistics.median(known) < HOOK_DELAY / 2
    assert abs(statistics.median(known) - statistics.median(unknown)) < HOOK_DELAY / 4


async def test_verify_token_from_the_background_still_verifies(http_db: SessionMaker) -> None:
    """The token issued after the response is a working one: /verify accepts it."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        await register(client, KNOWN, PASSWORD)
        await client.post("/auth/request-verify-token", json={"email": KNOWN})
        token = test_app.hooks.last("on_after_request_verify")["token"]
        verified = await client.post("/auth/verify", json={"token": token})

    assert verified.status_code == 200
    assert verified.json()["is_verified"] is True


async def test_login_timing_of_unknown_and_wrong_password_overlaps(http_db: SessionMaker) -> None:
    """T12: with production Argon2 costs, an unknown e-mail takes as long as a wrong password."""
    manager_class = make_user_manager_class(HookLog())
    helper = PasswordHelper()  # the real parameters: a skipped hash would show plainly

    async def attempt(email: str) -> float:
        async with http_db() as session:
            manager = manager_class(SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount), helper)
            start = time.perf_counter()
            user = await manager.authenticate(OAuth2PasswordRequestForm(username=email, password="not-the-password"))
            elapsed = time.perf_counter() - start
        assert user is None
        return elapsed

    async with http_db() as session:
        manager = manager_class(SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount), helper)
        await manager.create(UserCreate(email=KNOWN, password=PASSWORD))
    await attempt(UNKNOWN)  # warm the dummy hash cache

    known, unknown = await interleaved(lambda: attempt(KNOWN), lambda: attempt(UNKNOWN), rounds=7)

    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, (known, unknown)


async def test_register_without_opt_in_keeps_the_documented_answer(http_db: SessionMaker) -> None:
    """By default a taken address still gets FastAPI Users' 400 REGISTER_USER_ALREADY_EXISTS."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        await register(client, KNOWN, PASSWORD)
        again = await register(client, KNOWN.upper(), "another-pass-2468")

    assert again.status_code == 400
    assert again.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"}


async def test_register_hiding_existing_users_answers_like_a_new_one(http_db: SessionMaker) -> None:
    """T14: opt-in, a taken address gets a 201 of the same shape; the owner's hook runs; nothing changes."""
    test_app = app_for(http_db, hide_existing_users=True)
    async with client_for(test_app.app) as client:
        first = await register(client, KNOWN, PASSWORD)
        taken = await register(client, KNOWN, "another-pass-2468")
        fresh = await register(client, "kay@camelot.bt", "another-pass-2468")
        old_password = await login(client, KNOWN, PASSWORD)
        new_password = await login(client, KNOWN, "another-pass-2468")

    assert taken.status_code == fresh.status_code == 201
    assert taken.json().keys() == fresh.json().keys()
    assert taken.headers.keys() == fresh.headers.keys()
    assert taken.json()["id"] != first.json()["id"]
    assert taken.json()["email"] == KNOWN
    assert test_app.hooks.last("on_registration_conflict")["user"].id.hex == first.json()["id"].replace("-", "")
    assert (old_password.status_code, new_password.status_code) == (200, 400)


async def test_register_conflict_hook_runs_after_the_response(http_db: SessionMaker) -> None:
    """A conflict hook that sleeps 200 ms does not delay the answer to a taken address."""
    test_app = app_for(http_db, hide_existing_users=True, hook_delay_seconds=HOOK_DELAY)
    clock = ResponseClock(test_app.app)
    async with client_for(clock) as client:  # type: ignore[arg-type]  # an ASGI app, not a FastAPI one
        await register(client, KNOWN, PASSWORD)
        taken = await register(client, KNOWN, "another-pass-2468")

    assert taken.status_code == 201
    assert clock.samples[-1] < HOOK_DELAY
    assert test_app.hooks.names().count("on_registration_conflict") == 1


async def test_register_hiding_existing_users_still_checks_the_password(http_db: SessionMaker) -> None:
    """With the opt-in, an invalid password gets the same 400 for taken and new addresses alike."""
    test_app = app_for(http_db, hide_existing_users=True, validate_password=_refuse_short)
    async with client_for(test_app.app) as client:
        await register(client, KNOWN, PASSWORD)
        taken = await register(client, KNOWN, "short")
        fresh = await register(client, "kay@camelot.bt", "short")

    assert taken.status_code == fresh.status_code == 400
    assert taken.json() == fresh.json()


async def _refuse_short(password: str, user: Any) -> None:
    if len(password) < 8:
        raise InvalidPasswordException(reason="Too short.")
