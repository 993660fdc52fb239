"""Contract §2.4: ``POST /request-verify-token`` and ``POST /verify``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from fastapi_userkit.jwt import generate_jwt
from tests.app_factory import SECRET, TestApp
from tests.models import User
from tests.router.helpers import create_user, fetch_user

BAD_TOKEN = {"detail": "VERIFY_USER_BAD_TOKEN"}
AUDIENCE = "fastapi-users:verify"


async def request_verify_token(test_app: TestApp, client: httpx.AsyncClient, email: str = "user@example.com") -> str:
    """Ask for a verification token and return the one handed to the hook."""
    response = await client.post("/auth/request-verify-token", json={"email": email})
    assert response.status_code == 202
    token: str = test_app.hooks.last("on_after_request_verify")["token"]
    return token


def test_route_names(test_app: TestApp) -> None:
    """The verify routes carry their contract names."""
    app = test_app.app

    assert app.url_path_for("verify:request-token") == "/auth/request-verify-token"
    assert app.url_path_for("verify:verify") == "/auth/verify"


async def test_request_verify_token(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """An active unverified user's address answers 202 null and hands a token to the hook."""
    user = await create_user(test_app)

    response = await client.post("/auth/request-verify-token", json={"email": "User@Example.com"})

    assert (response.status_code, response.json()) == (202, None)
    assert test_app.hooks.last("on_after_request_verify")["user"].id == user.id


@pytest.mark.parametrize("email", ["nobody@example.com", "inactive@example.com", "verified@example.com"])
async def test_request_verify_token_silently_skipped(test_app: TestApp, client: httpx.AsyncClient, email: str) -> None:
    """Unknown, inactive and already verified addresses answer the same 202 null, and no hook runs."""
    await create_user(test_app, "inactive@example.com", is_active=False)
    await create_user(test_app, "verified@example.com", is_verified=True)

    response = await client.post("/auth/request-verify-token", json={"email": email})

    assert (response.status_code, response.json()) == (202, None)
    assert "on_after_request_verify" not in test_app.hooks.names()


@pytest.mark.parametrize("body", [{}, {"email": "nope"}, {"email": None}])
async def test_request_verify_token_invalid_body(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """A missing or malformed address is a 422."""
    response = await client.post("/auth/request-verify-token", json=body)

    assert response.status_code == 422


async def test_verify(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A valid token answers 200 with the user, now verified, and calls on_after_verify."""
    user = await create_user(test_app)
    token = await request_verify_token(test_app, client)

    response = await client.post("/auth/verify", json={"token": token})

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["is_verified"]) == (str(user.id), "user@example.com", True)
    assert test_app.hooks.last("on_after_verify")["user"].id == user.id
    stored = await fetch_user(test_app, "user@example.com")
    assert stored is not None
    assert stored.is_verified


async def test_verify_twice(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """Verifying an already verified user is VERIFY_USER_ALREADY_VERIFIED."""
    await create_user(test_app)
    token = await request_verify_token(test_app, client)
    await client.post("/auth/verify", json={"token": token})

    response = await client.post("/auth/verify", json={"token": token})

    assert (response.status_code, response.json()) == (400, {"detail": "VERIFY_USER_ALREADY_VERIFIED"})


async def test_inactive_user_can_verify(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """Like FastAPI Users, /verify does not require the user to be active."""
    user = await create_user(test_app)
    token = await request_verify_token(test_app, client)
    async with test_app.session_maker() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.is_active = False
        await session.commit()

    response = await client.post("/auth/verify", json={"token": token})

    assert response.status_code == 200
    assert response.json()["is_verified"] is True


async def test_verify_token_dies_with_email_change(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A token for an address the user no longer has is VERIFY_USER_BAD_TOKEN."""
    user = await create_user(test_app)
    token = await request_verify_token(test_app, client)
    async with test_app.session_maker() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.email = "changed@example.com"
        await session.commit()

    response = await client.post("/auth/verify", json={"token": token})

    assert (response.status_code, response.json()) == (400, BAD_TOKEN)


def _forged(claims: dict[str, Any], secret: str = SECRET, lifetime: int | None = 3600) -> str:
    return generate_jwt(claims, secret, lifetime)


@pytest.mark.parametrize(
    "make_token",
    [
        lambda _user, _other: "not-a-token",
        lambda user, _other: _forged({"sub": str(user.id), "email": user.email, "aud": AUDIENCE}, lifetime=-10),
        lambda user, _other: _forged({"sub": str(user.id), "email": user.email, "aud": "fastapi-users:reset"}),
        lambda user, _other: _forged({"sub": str(user.id), "email": user.email, "aud": AUDIENCE}, "x" * 40),
        lambda user, _other: _forged({"email": user.email, "aud": AUDIENCE}),
        lambda user, _other: _forged({"sub": str(user.id), "aud": AUDIENCE}),
        lambda user, _other: _forged({"sub": str(user.id), "email": 42, "aud": AUDIENCE}),
        lambda user, _other: _forged({"sub": "not-a-uuid", "email": user.email, "aud": AUDIENCE}),
        lambda user, _other: _forged({"sub": str(uuid.uuid4()), "email": user.email, "aud": AUDIENCE}),
        lambda user, other: _forged({"sub": str(other.id), "email": user.email, "aud": AUDIENCE}),
        lambda user, _other: _forged({"sub": str(user.id), "email": "ghost@example.com", "aud": AUDIENCE}),
    ],
    ids=[
        "garbage",
        "expired",
        "wrong-audience",
        "wrong-secret",
        "no-sub",
        "no-email",
        "int-email",
        "bad-id",
        "unknown-id",
        "id-mismatch",
        "unknown-email",
    ],
)
async def test_verify_bad_tokens(test_app: TestApp, client: httpx.AsyncClient, make_token: Any) -> None:
    """Malformed, expired, foreign and mismatched tokens are VERIFY_USER_BAD_TOKEN and verify nobody."""
    user = await create_user(test_app)
    other = await create_user(test_app, "other@example.com")

    response = await client.post("/auth/verify", json={"token": make_token(user, other)})

    assert (response.status_code, response.json()) == (400, BAD_TOKEN)
    stored = await fetch_user(test_app, "user@example.com")
    assert stored is not None
    assert not stored.is_verified


@pytest.mark.parametrize("body", [{}, {"token": None}, {"token": ["a"]}])
async def test_verify_invalid_body(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """A missing or non-string token is a 422."""
    response = await client.post("/auth/verify", json=body)

    assert response.status_code == 422
