"""DESIGN.md "deliberate differences" 1: nothing a client sends yields a 500.

The client here lets the app's exceptions become responses, so a crash shows up as a ``500``
status in the assertion message rather than as a traceback from inside the app.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.app_factory import SECRET, TestApp
from tests.models import User
from tests.router.helpers import PASSWORD, bearer, create_user, login

AUDIENCE = ["fastapi-users:auth"]
UNAUTHORIZED = {"detail": "Unauthorized"}


@pytest.fixture
async def tolerant_client(test_app: TestApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client that turns an unhandled app exception into a plain 500 response."""
    transport = httpx.ASGITransport(app=test_app.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256", **headers: Any) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers or None)


def _raw_payload(payload: bytes) -> str:
    """A correctly signed HS256 JWS whose payload is arbitrary bytes."""
    return jwt.api_jws.PyJWS().encode(payload, SECRET, algorithm="HS256")


def _alg_none(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _hmac_signed(claims: dict[str, Any], key: bytes, algorithm: str = "HS256") -> str:
    """A JWT signed by hand, so PyJWT's own key checks at signing time do not interfere."""
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[algorithm]
    header = _b64(json.dumps({"alg": algorithm, "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


@functools.cache
def _rsa_public_pem() -> bytes:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _public_key_as_hmac_secret(claims: dict[str, Any]) -> str:
    """HS256 signed with an RSA public key: the classic algorithm-confusion attack."""
    return _hmac_signed(claims, _rsa_public_pem())


TokenMaker = Callable[[User], str]

BAD_TOKENS: dict[str, TokenMaker] = {
    "empty": lambda _user: "",
    "three-dots": lambda _user: "...",
    "garbage": lambda _user: "not-a-jwt",
    "fake-segments": lambda _user: "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
    "long": lambda _user: "A" * 20_000,
    "non-ascii": lambda _user: "é.é.é",
    "alg-none": lambda user: _alg_none({"sub": str(user.id), "aud": AUDIENCE}),
    "wrong-key": lambda user: _signed({"sub": str(user.id), "aud": AUDIENCE}, key="another-secret" * 4),
    "other-hmac-alg": lambda user: _hmac_signed({"sub": str(user.id), "aud": AUDIENCE}, SECRET.encode(), "HS512"),
    "rsa-public-key-confusion": lambda user: _public_key_as_hmac_secret({"sub": str(user.id), "aud": AUDIENCE}),
    "wrong-audience": lambda user: _signed({"sub": str(user.id), "aud": ["fastapi-users:reset"]}),
    "no-audience": lambda user: _signed({"sub": str(user.id)}),
    "expired": lambda user: _signed(
        {"sub": str(user.id), "aud": AUDIENCE, "exp": datetime.now(UTC) - timedelta(minutes=5)}
    ),
    "exp-not-a-number": lambda user: _signed({"sub": str(user.id), "aud": AUDIENCE, "exp": "tomorrow"}),
    "no-sub": lambda _user: _signed({"aud": AUDIENCE}),
    "sub-null": lambda _user: _signed({"sub": None, "aud": AUDIENCE}),
    "sub-int": lambda _user: _signed({"sub": 42, "aud": AUDIENCE}),
    "sub-list": lambda user: _signed({"sub": [str(user.id)], "aud": AUDIENCE}),
    "sub-object": lambda user: _signed({"sub": {"id": str(user.id)}, "aud": AUDIENCE}),
    "sub-not-uuid": lambda _user: _signed({"sub": "admin", "aud": AUDIENCE}),
    "sub-huge": lambda _user: _signed({"sub": "9" * 5000, "aud": AUDIENCE}),
    "sub-unknown": lambda _user: _signed({"sub": str(uuid.uuid4()), "aud": AUDIENCE}),
    "fingerprint-wrong": lambda user: _signed({"sub": str(user.id), "aud": AUDIENCE, "fgp": "AAAAAAAAAAAAAAAA"}),
    "fingerprint-int": lambda user: _signed({"sub": str(user.id), "aud": AUDIENCE, "fgp": 7}),
    "fingerprint-list": lambda user: _signed({"sub": str(user.id), "aud": AUDIENCE, "fgp": ["x"]}),
    "payload-list": lambda _user: _raw_payload(b"[1, 2]"),
    "payload-not-utf8": lambda _user: _raw_payload(b"\xff\xfe\xfd"),
    "payload-not-json": lambda _user: _raw_payload(b"{sub: 1"),
    "unknown-critical-header": lambda user: _signed({"sub": str(user.id), "aud": AUDIENCE}, crit=["x-custom"]),
    "reset-token": lambda user: _signed({"sub": str(user.id), "aud": "fastapi-users:reset", "password_fgpt": "x"}),
}


@pytest.mark.parametrize("make_token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
@pytest.mark.parametrize("carrier", ["header", "cookie"])
async def test_bad_access_tokens_are_401(
    test_app: TestApp, tolerant_client: httpx.AsyncClient, make_token: TokenMaker, carrier: str
) -> None:
    """Malformed, forged, foreign and stale tokens are a plain 401 on a protected route, never a 500."""
    user = await create_user(test_app)
    token = make_token(user)
    # Raw bytes: a client may send any octets; the server decodes headers as Latin-1.
    value = f"Bearer {token}" if carrier == "header" else f"fastapiusersauth={token}"
    headers = [(b"authorization" if carrier == "header" else b"cookie", value.encode())]

    response = await tolerant_client.get("/users/me", headers=headers)

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


async def test_legacy_token_without_fingerprint_is_accepted(
    test_app: TestApp, tolerant_client: httpx.AsyncClient
) -> None:
    """The control for the table above: a well-formed token (even without ``fgp``) is a 200."""
    user = await create_user(test_app)

    response = await tolerant_client.get("/users/me", headers=bearer(_signed({"sub": str(user.id), "aud": AUDIENCE})))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "authorization", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer", "Token abc", " ", "Bearer a b"]
)
async def test_odd_authorization_headers(tolerant_client: httpx.AsyncClient, authorization: str) -> None:
    """Authorization headers without a usable bearer token are a 401."""
    response = await tolerant_client.get("/users/me", headers={"Authorization": authorization})

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


JSON_ROUTES = [
    ("POST", "/auth/register"),
    ("POST", "/auth/forgot-password"),
    ("POST", "/auth/reset-password"),
    ("POST", "/auth/request-verify-token"),
    ("POST", "/auth/verify"),
    ("PATCH", "/users/me"),
]
BAD_BODIES = {
    "truncated-json": (b'{"email": ', "application/json"),
    "not-utf8": (b"\xff\xfe\x00", "application/json"),
    "json-null": (b"null", "application/json"),
    "json-number": (b"12", "application/json"),
    "deep-nesting": (b"[" * 50_000, "application/json"),
    "plain-text": (b"email=user@example.com", "text/plain"),
    "xml": (b"<email>user@example.com</email>", "application/xml"),
    "form": (b"email=user%40example.com&password=x", "application/x-www-form-urlencoded"),
    "multipart": (b"--b\r\nContent-Disposition: form-data; name=email\r\n\r\nx\r\n--b--\r\n", "multipart/form-data"),
    "garbage-content-type": (b'{"email": "user@example.com"}', "this is not a media type"),
}


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=[path for _, path in JSON_ROUTES])
@pytest.mark.parametrize(("body", "content_type"), list(BAD_BODIES.values()), ids=list(BAD_BODIES))
async def test_bad_bodies_are_client_errors(
    test_app: TestApp,
    tolerant_client: httpx.AsyncClient,
    method: str,
    path: str,
    body: bytes,
    content_type: str,
) -> None:
    """Non-JSON bodies and wrong content types on JSON routes are a 4xx (400 or 422), never a 500."""
    await create_user(test_app)
    token = await login(tolerant_client)

    response = await tolerant_client.request(
        method, path, content=body, headers={"Content-Type": content_type, **bearer(token)}
    )

    assert response.status_code in {400, 422}, response.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"username": "user@example.com", "password": "x"}', "application/json"),
        (b"username=%ff%fe&password=%00", "application/x-www-form-urlencoded"),
        (b"username=\xff\xfe&password=\xfd", "application/x-www-form-urlencoded"),
        (b"--b\r\nContent-Disposition: form-data; name=username\r\n\r\nx\r\n", "multipart/form-data; boundary=b"),
        (b"", "application/x-www-form-urlencoded"),
    ],
    ids=["json", "percent-encoded-garbage", "raw-garbage", "truncated-multipart", "empty"],
)
async def test_bad_login_bodies(
    test_app: TestApp, tolerant_client: httpx.AsyncClient, body: bytes, content_type: str
) -> None:
    """Login bodies that are not a proper form are a 4xx, never a 500."""
    await create_user(test_app)

    response = await tolerant_client.post("/auth/jwt/login", content=body, headers={"Content-Type": content_type})

    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    "username",
    ["a\x00b@example.com", "x" * 10_000, "' OR 1=1 --", "user@example.com\x00", "ü@exämple.com", ""],
    ids=["nul", "huge", "sql", "trailing-nul", "unicode", "empty"],
)
async def test_odd_login_usernames(test_app: TestApp, tolerant_client: httpx.AsyncClient, username: str) -> None:
    """Login usernames are not validated as e-mail; odd ones are LOGIN_BAD_CREDENTIALS (or 422 if empty)."""
    await create_user(test_app)

    response = await tolerant_client.post("/auth/jwt/login", data={"username": username, "password": PASSWORD})

    assert response.status_code in {400, 422}, response.text
    if response.status_code == 400:
        assert response.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}
