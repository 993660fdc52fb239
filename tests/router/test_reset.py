"""Contract §2.3: ``POST /forgot-password`` and ``POST /reset-password``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from fastapi_userkit import InvalidPasswordException
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.jwt import generate_jwt
from fastapi_userkit.router import get_reset_password_router
from tests.app_factory import SECRET, HookLog, TestApp, fast_password_helper, make_app, make_user_manager_class
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User
from tests.router.helpers import PASSWORD, client_for, create_user

NEW_PASSWORD = "a brand new passphrase"
BAD_TOKEN = {"detail": "RESET_PASSWORD_BAD_TOKEN"}


async def request_reset_token(test_app: TestApp, client: httpx.AsyncClient, email: str = "user@example.com") -> str:
    """Ask for a reset and return the token handed to the hook."""
    response = await client.post("/auth/forgot-password", json={"email": email})
    assert response.status_code == 202
    token: str = test_app.hooks.last("on_after_forgot_password")["token"]
    return token


async def set_active(test_app: TestApp, user: User, active: bool) -> None:
    """Change a user's ``is_active`` straight in the database."""
    async with test_app.session_maker() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.is_active = active
        await session.commit()


def test_route_names(test_app: TestApp) -> None:
    """The reset routes carry their contract names."""
    app = test_app.app

    assert app.url_path_for("reset:forgot_password") == "/auth/forgot-password"
    assert app.url_path_for("reset:reset_password") == "/auth/reset-password"


async def test_forgot_password_known_active_user(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """An active user's address answers 202 null and hands a token to on_after_forgot_password."""
    user = await create_user(test_app)

    response = await client.post("/auth/forgot-password", json={"email": "USER@example.com"})

    assert (response.status_code, response.json()) == (202, None)
    call = test_app.hooks.last("on_after_forgot_password")
    assert call["user"].id == user.id
    assert isinstance(call["token"], str)


@pytest.mark.parametrize("email", ["nobody@example.com", "inactive@example.com"])
async def test_forgot_password_unknown_or_inactive(test_app: TestApp, client: httpx.AsyncClient, email: str) -> None:
    """Unknown and inactive addresses answer the same 202 null, and no hook runs."""
    await create_user(test_app, "inactive@example.com", is_active=False)

    response = await client.post("/auth/forgot-password", json={"email": email})

    assert (response.status_code, response.json()) == (202, None)
    assert "on_after_forgot_password" not in test_app.hooks.names()


@pytest.mark.parametrize("body", [{}, {"email": "not-an-email"}, {"email": None}, {"mail": "user@example.com"}])
async def test_forgot_password_invalid_body(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """A missing or malformed address is a 422."""
    response = await client.post("/auth/forgot-password", json=body)

    assert response.status_code == 422


async def test_reset_password(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A valid token sets the new password: 200 null, the hook runs, only the new password logs in."""
    user = await create_user(test_app)
    token = await request_reset_token(test_app, client)

    response = await client.post("/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})

    assert (response.status_code, response.json()) == (200, None)
    assert test_app.hooks.last("on_after_reset_password")["user"].id == user.id
    old = await client.post("/auth/jwt/login", data={"username": "user@example.com", "password": PASSWORD})
    new = await client.post("/auth/jwt/login", data={"username": "user@example.com", "password": NEW_PASSWORD})
    assert (old.status_code, new.status_code) == (400, 200)


async def test_reset_token_is_single_use(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A reset token used once is RESET_PASSWORD_BAD_TOKEN the second time."""
    await create_user(test_app)
    token = await request_reset_token(test_app, client)
    first = await client.post("/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})

    second = await client.post("/auth/reset-password", json={"token": token, "password": "yet another passphrase"})

    assert first.status_code == 200
    assert (second.status_code, second.json()) == (400, BAD_TOKEN)


async def test_reset_token_dies_with_password_change(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """Both tokens issued before a reset stop working once one of them is used."""
    await create_user(test_app)
    first_token = await request_reset_token(test_app, client)
    second_token = await request_reset_token(test_app, client)
    await client.post("/auth/reset-password", json={"token": second_token, "password": NEW_PASSWORD})

    response = await client.post("/auth/reset-password", json={"token": first_token, "password": "yet another one"})

    assert (response.status_code, response.json()) == (400, BAD_TOKEN)


async def test_reset_of_deactivated_user(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A token of a user deactivated after asking is RESET_PASSWORD_BAD_TOKEN."""
    user = await create_user(test_app)
    token = await request_reset_token(test_app, client)
    await set_active(test_app, user, active=False)

    response = await client.post("/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})

    assert (response.status_code, response.json()) == (400, BAD_TOKEN)


async def test_reset_of_deleted_user(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A token of a user deleted since is RESET_PASSWORD_BAD_TOKEN."""
    user = await create_user(test_app)
    token = await request_reset_token(test_app, client)
    async with test_app.session_maker() as session:
        stored = await session.get(User, user.id)
        await session.delete(stored)
        await session.commit()

    response = await client.post("/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})

    assert (response.status_code, response.json()) == (400, BAD_TOKEN)


def _forged(claims: dict[str, Any], secret: str = SECRET, lifetime: int | None = 3600) -> str:
    return generate_jwt(claims, secret, lifetime)


@pytest.mark.parametrize(
    "make_token",
    [
        lambda _user: "not-a-token",
        lambda _user: "",
        lambda user: _forged({"sub": str(user.id), "aud": "fastapi-users:reset"}, lifetime=-10),
        lambda user: _forged({"sub": str(user.id), "aud": "fastapi-users:verify"}),
        lambda user: _forged({"sub": str(user.id), "aud": "fastapi-users:reset"}, secret="another-secret" * 3),
        lambda _user: _forged({"aud": "fastapi-users:reset"}),
        lambda _user: _forged({"sub": "not-a-uuid", "aud": "fastapi-users:reset"}),
        lambda _user: _forged({"sub": 12, "aud": "fastapi-users:reset"}),
        lambda _user: _forged({"sub": str(uuid.uuid4()), "aud": "fastapi-users:reset"}),
        lambda user: _forged({"sub": str(user.id), "aud": "fastapi-users:reset"}),
        lambda user: _forged({"sub": str(user.id), "aud": "fastapi-users:reset", "password_fgpt": "forged"}),
    ],
    ids=[
        "garbage",
        "empty",
        "expired",
        "wrong-audience",
        "wrong-secret",
        "no-sub",
        "bad-id",
        "int-sub",
        "unknown-user",
        "no-fingerprint",
        "forged-fingerprint",
    ],
)
async def test_reset_bad_tokens(test_app: TestApp, client: httpx.AsyncClient, make_token: Any) -> None:
    """Every malformed, expired, foreign or forged token is RESET_PASSWORD_BAD_TOKEN and changes nothing."""
    user = await create_user(test_app)

    response = await client.post("/auth/reset-password", json={"token": make_token(user), "password": NEW_PASSWORD})

    assert (response.status_code, response.json()) == (400, BAD_TOKEN)
    login = await client.post("/auth/jwt/login", data={"username": "user@example.com", "password": PASSWORD})
    assert login.status_code == 200


async def test_reset_invalid_password(http_db: SessionMaker) -> None:
    """A new password refused by the policy is RESET_PASSWORD_INVALID_PASSWORD, and the token stays usable."""

    async def reject_short(password: str, user: Any) -> None:
        if len(password) < 10:
            raise InvalidPasswordException(reason="too short")

    test_app = make_app(http_db, validate_password=reject_short)
    await create_user(test_app)
    async with client_for(test_app.app) as client:
        token = await request_reset_token(test_app, client)
        refused = await client.post("/auth/reset-password", json={"token": token, "password": "short"})
        accepted = await client.post("/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})

    assert refused.status_code == 400
    assert refused.json() == {"detail": {"code": "RESET_PASSWORD_INVALID_PASSWORD", "reason": "too short"}}
    assert accepted.status_code == 200


@pytest.mark.parametrize("body", [{}, {"token": "x"}, {"password": NEW_PASSWORD}, {"token": None, "password": "x"}])
async def test_reset_invalid_body(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """A missing token or password is a 422."""
    response = await client.post("/auth/reset-password", json=body)

    assert response.status_code == 422


async def test_reset_with_a_manager_override_that_returns_nothing(test_app: TestApp, http_db: SessionMaker) -> None:
    """A ``reset_password`` override that returns ``None`` (FastAPI Users ignored the value) still answers 200."""
    hooks = HookLog()
    base = make_user_manager_class(hooks)

    class NoReturnManager(base):  # type: ignore[valid-type,misc]  # the factory's class, known at run time
        async def reset_password(self, token: str, password: str, request: Request | None = None) -> Any:
            await super().reset_password(token, password, request)

    async def get_user_manager() -> Any:
        async with http_db() as session:
            yield NoReturnManager(SQLAlchemyUserDatabase(session, User, OAuthAccount), fast_password_helper())

    app = FastAPI()
    app.include_router(get_reset_password_router(get_user_manager))
    user = await create_user(test_app)
    async with http_db() as session:
        await NoReturnManager(
            SQLAlchemyUserDatabase(session, User, OAuthAccount), fast_password_helper()
        ).forgot_password(user)
    token = hooks.last("on_after_forgot_password")["token"]

    async with client_for(app) as client:
        response = await client.post("/reset-password", json={"token": token, "password": NEW_PASSWORD})

    assert (response.status_code, response.json()) == (200, None)
    assert hooks.last("on_after_reset_password")["user"].id == user.id
