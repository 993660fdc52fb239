"""Hostile input answers 4xx, never 5xx: malformed tokens, huge bodies, bad UTF-8, wrong content types."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from fastapi_userkit.db import SQLAlchemyUserDatabase
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User
from tests.security.events_support import app_for, bearer, client_for, register

EMAIL = "bedivere@camelot.bt"
PASSWORD = "return-the-sword-99"
HUGE_EMAIL = "a" * 100_000 + "@camelot.bt"


def _unsigned_jwt() -> str:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "1", "aud": ["fastapi-users:auth"]}).encode()).rstrip(b"=")
    return f"{header.decode()}.{claims.decode()}."


MALFORMED_TOKENS = [
    "",
    "not-a-jwt",
    "a.b.c",
    "a.b",
    "x" * 100_000,
    _unsigned_jwt(),
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJcdWQ4MDAifQ.c2ln",  # a lone-surrogate subject, bad signature
    "\u00e9t\u00e9",
]


@pytest.mark.parametrize("token", MALFORMED_TOKENS)
async def test_malformed_bearer_tokens_get_401(http_db: SessionMaker, token: str) -> None:
    """A malformed, unsigned, huge or non-ASCII bearer token gets 401 on a protected route."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        header = f"Bearer {token}".encode()
        response = await client.get("/users/me", headers=[(b"Authorization", header)])
        logout = await client.post("/auth/jwt/logout", headers=[(b"Authorization", header)])

    assert response.status_code == logout.status_code == 401


@pytest.mark.parametrize("token", MALFORMED_TOKENS[:6])
async def test_malformed_cookies_get_401(http_db: SessionMaker, token: str) -> None:
    """A malformed auth cookie gets 401, never 500."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        response = await client.get("/users/me", headers={"Cookie": f"fastapiusersauth={token}"})

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/reset-password", {"token": "x" * 200_000, "password": PASSWORD}),
        ("/auth/verify", {"token": "x" * 200_000}),
        ("/auth/verify", {"token": "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"}),
        ("/auth/reset-password", {"token": "\ud800", "password": PASSWORD}),
        ("/auth/verify", {"token": "\udfff.\ud800.x"}),
    ],
)
async def test_malformed_flow_tokens_get_400(http_db: SessionMaker, path: str, body: dict[str, Any]) -> None:
    """Malformed reset and verification tokens (lone surrogates too) get 400 with the flow's bad-token code."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        # json.dumps escapes lone surrogates as \ud800, valid JSON that httpx itself cannot encode
        content = json.dumps(body).encode()
        response = await client.post(path, content=content, headers={"Content-Type": "application/json"})

    assert response.status_code == 400


async def test_huge_emails_get_4xx(http_db: SessionMaker) -> None:
    """A 100 kB e-mail address is refused by every route that takes one."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        answers = [
            await register(client, HUGE_EMAIL, PASSWORD),
            await client.post("/auth/jwt/login", data={"username": HUGE_EMAIL, "password": PASSWORD}),
            await client.post("/auth/forgot-password", json={"email": HUGE_EMAIL}),
            await client.post("/auth/request-verify-token", json={"email": HUGE_EMAIL}),
        ]

    assert [response.status_code for response in answers] == [422, 400, 422, 422]


async def test_oversized_bodies_get_4xx(http_db: SessionMaker) -> None:
    """Multi-megabyte passwords and custom fields are refused with 4xx, not hashed or stored."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, PASSWORD)
        auth = await bearer(client, EMAIL, PASSWORD)
        answers = [
            await register(client, "gaheris@camelot.bt", "p" * 3_000_000),
            await client.post("/auth/jwt/login", data={"username": EMAIL, "password": "p" * 3_000_000}),
            await client.patch("/users/me", json={"password": "p" * 3_000_000}, headers=auth),
        ]

    assert [response.status_code for response in answers] == [400, 400, 400]


@pytest.mark.parametrize(
    ("path", "content", "content_type"),
    [
        ("/auth/register", b'{"email": "\xff\xfe@camelot.bt", "password": "x"}', "application/json"),
        ("/auth/register", b'{"email": "a@camelot.bt", "password": "\xc3\x28\xa0\xa1"}', "application/json"),
        ("/auth/forgot-password", b'{"email": "\xed\xa0\x80@camelot.bt"}', "application/json"),
        ("/auth/jwt/login", b"username=%ff%fe%00@camelot.bt&password=%c3%28", "application/x-www-form-urlencoded"),
        ("/auth/jwt/login", b"username=\xff\xfe@camelot.bt&password=\xc3\x28", "application/x-www-form-urlencoded"),
    ],
)
async def test_invalid_utf8_gets_4xx(http_db: SessionMaker, path: str, content: bytes, content_type: str) -> None:
    """Bodies with invalid UTF-8 (raw or percent-encoded) get 4xx."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        response = await client.post(path, content=content, headers={"Content-Type": content_type})

    assert 400 <= response.status_code < 500, response.text


async def test_nul_and_control_characters_in_login_get_400(http_db: SessionMaker) -> None:
    """An e-mail with a NUL byte (which PostgreSQL text cannot hold) gets the bad-credentials answer."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        response = await client.post(
            "/auth/jwt/login", data={"username": "bedi\x00vere@camelot.bt", "password": "pass\x00word"}
        )

    assert response.status_code == 400
    assert response.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/auth/register", {"data": {"email": EMAIL, "password": PASSWORD}}),
        ("/auth/register", {"content": b"email=x", "headers": {"Content-Type": "text/plain"}}),
        ("/auth/register", {"content": b"<xml/>", "headers": {"Content-Type": "application/xml"}}),
        ("/auth/jwt/login", {"json": {"username": EMAIL, "password": PASSWORD}}),
        ("/auth/forgot-password", {"data": {"email": EMAIL}}),
        ("/auth/verify", {"content": b"\x00\x01\x02", "headers": {"Content-Type": "application/octet-stream"}}),
        ("/auth/reset-password", {"content": b"[1, 2", "headers": {"Content-Type": "application/json"}}),
    ],
)
async def test_wrong_content_types_get_422(http_db: SessionMaker, path: str, kwargs: dict[str, Any]) -> None:
    """A form where JSON is expected, JSON where a form is expected, or another type, gets 422."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        response = await client.post(path, **kwargs)

    assert response.status_code == 422, response.text


async def test_hostile_ids_and_queries_get_4xx(http_db: SessionMaker) -> None:
    """Ids of the wrong type or size, and a bad ``limit``, get 4xx for a superuser too."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, PASSWORD)
        async with http_db() as session:
            user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
            user = await user_db.get_by_email(EMAIL)
            assert user is not None
            await user_db.update(user, {"is_superuser": True})
        auth = await bearer(client, EMAIL, PASSWORD)
        answers: list[httpx.Response] = [
            await client.get(f"/users/{value}", headers=auth) for value in ("1", "x" * 5000, "%00", "-1e999")
        ]
        answers.append(await client.patch("/users/not-a-uuid", json={"email": None}, headers=auth))
        answers.append(await client.delete("/users/00000000-0000-0000-0000-000000000000", headers=auth))

    assert [response.status_code for response in answers] == [404, 404, 404, 404, 404, 404]
