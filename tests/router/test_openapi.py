"""The OpenAPI schema matches what the routes really answer (DESIGN.md, deliberate difference 8).

A recorder wraps the documented app, a scenario drives every route of contract §2.1-2.5 into
each of its answers, and each recorded ``(route, status, detail)`` must be documented.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fastapi_userkit import InvalidPasswordException
from fastapi_userkit.jwt import generate_jwt
from tests.app_factory import SECRET, TestApp, make_app
from tests.conftest import SessionMaker
from tests.router.helpers import PASSWORD, bearer, create_user, fetch_user, login

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CONTRACT_ROUTES = {
    ("POST", "/auth/jwt/login"): "auth:jwt.login",
    ("POST", "/auth/jwt/logout"): "auth:jwt.logout",
    ("POST", "/auth/cookie/login"): "auth:cookie.login",
    ("POST", "/auth/cookie/logout"): "auth:cookie.logout",
    ("POST", "/auth/register"): "register:register",
    ("POST", "/auth/forgot-password"): "reset:forgot_password",
    ("POST", "/auth/reset-password"): "reset:reset_password",
    ("POST", "/auth/request-verify-token"): "verify:request-token",
    ("POST", "/auth/verify"): "verify:verify",
    ("GET", "/users/me"): "users:current_user",
    ("PATCH", "/users/me"): "users:patch_current_user",
    ("GET", "/users/{id}"): "users:user",
    ("PATCH", "/users/{id}"): "users:patch_user",
    ("DELETE", "/users/{id}"): "users:delete_user",
}


@dataclass
class Recorder:
    """An ASGI wrapper that notes the route, status and body of every answer."""

    app: FastAPI
    seen: list[tuple[str, str, int, bytes]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward to the app and record the answer."""
        answer: dict[str, Any] = {"body": b""}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, recording_send)
        self.seen.append((scope["method"], scope["path"], answer["status"], answer["body"]))


def path_template(openapi: dict[str, Any], method: str, path: str) -> str:
    """The OpenAPI path that serves ``method path`` (literal paths win, as in the routers)."""
    candidates = [template for template, operations in openapi["paths"].items() if method.lower() in operations]
    if path in candidates:
        return path
    for template in candidates:
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
            return str(template)
    raise AssertionError(f"no OpenAPI path serves {method} {path}")


async def reject_short(password: str, user: Any) -> None:
    """A password policy, so the invalid-password answers can be reached."""
    if len(password) < 10:
        raise InvalidPasswordException(reason="too short")


async def drive_every_answer(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """Make every contract route give each of its answers at least once."""
    user = await create_user(test_app, "user@example.com")
    admin = await create_user(test_app, "admin@example.com", is_superuser=True)
    await create_user(test_app, "inactive@example.com", is_active=False)
    form = {"username": "user@example.com", "password": PASSWORD}
    for backend in ("jwt", "cookie"):
        await client.post(f"/auth/{backend}/login", data=form)
        await client.post(f"/auth/{backend}/login", data={**form, "password": "wrong"})
        await client.post(f"/auth/{backend}/login", data={})
        await client.post(f"/auth/{backend}/logout")
        await client.post(f"/auth/{backend}/logout", headers=bearer(await login(client)))
    client.cookies.clear()

    await client.post("/auth/register", json={"email": "new@example.com", "password": PASSWORD})
    await client.post("/auth/register", json={"email": "new@example.com", "password": PASSWORD})
    await client.post("/auth/register", json={"email": "new2@example.com", "password": "short"})
    await client.post("/auth/register", json={})

    await client.post("/auth/forgot-password", json={"email": "user@example.com"})
    await client.post("/auth/forgot-password", json={})
    reset_token = test_app.hooks.last("on_after_forgot_password")["token"]
    await client.post("/auth/reset-password", json={"token": reset_token, "password": "short"})
    await client.post("/auth/reset-password", json={"token": reset_token, "password": PASSWORD + "!"})
    await client.post("/auth/reset-password", json={"token": reset_token, "password": PASSWORD})
    await client.post("/auth/reset-password", json={})

    # user@example.com is verified by now (its reset proved the address): verify another one.
    await client.post("/auth/request-verify-token", json={"email": "new@example.com"})
    await client.post("/auth/request-verify-token", json={})
    verify_token = test_app.hooks.last("on_after_request_verify")["token"]
    await client.post("/auth/verify", json={"token": verify_token})
    await client.post("/auth/verify", json={"token": verify_token})
    await client.post("/auth/verify", json={"token": "bad"})
    await client.post("/auth/verify", json={})

    user_token = await login(client, password=PASSWORD + "!")
    admin_token = await login(client, "admin@example.com")
    await client.get("/users/me", headers=bearer(user_token))
    await client.get("/users/me")
    await client.patch("/users/me", json={"first_name": "A"}, headers=bearer(user_token))
    await client.patch("/users/me", json={"email": "admin@example.com"}, headers=bearer(user_token))
    await client.patch("/users/me", json={"password": "short"}, headers=bearer(user_token))
    await client.patch("/users/me", json={"email": "bad"}, headers=bearer(user_token))
    await client.patch("/users/me", json={})
    for method in ("GET", "PATCH", "DELETE"):
        await client.request(method, f"/users/{admin.id}", json={})
        await client.request(method, f"/users/{admin.id}", json={}, headers=bearer(user_token))
        await client.request(method, f"/users/{uuid.uuid4()}", json={}, headers=bearer(admin_token))
    await client.get(f"/users/{user.id}", headers=bearer(admin_token))
    patch_url = f"/users/{user.id}"
    await client.patch(patch_url, json={"email": "admin@example.com"}, headers=bearer(admin_token))
    await client.patch(patch_url, json={"password": "short"}, headers=bearer(admin_token))
    await client.patch(patch_url, json={"email": "bad"}, headers=bearer(admin_token))
    await client.patch(patch_url, json={"is_verified": True}, headers=bearer(admin_token))
    await client.delete(f"/users/{user.id}", headers=bearer(admin_token))


async def drive_verification_answers(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """With requires_verification: the not-verified login and the 403 answers."""
    await create_user(test_app, "user@example.com")
    admin = await create_user(test_app, "admin@example.com", is_superuser=True)
    stored = await fetch_user(test_app, "user@example.com")
    assert stored is not None
    token = generate_jwt({"sub": str(stored.id), "aud": ["fastapi-users:auth"]}, SECRET, 3600)
    await client.post("/auth/jwt/login", data={"username": "user@example.com", "password": PASSWORD})
    await client.post("/auth/cookie/login", data={"username": "user@example.com", "password": PASSWORD})
    await client.post("/auth/jwt/logout", headers=bearer(token))
    await client.post("/auth/cookie/logout", headers=bearer(token))
    await client.get("/users/me", headers=bearer(token))
    await client.patch("/users/me", json={}, headers=bearer(token))
    await client.get(f"/users/{admin.id}", headers=bearer(token))


def _documented_details(response_doc: dict[str, Any]) -> list[Any]:
    examples = response_doc.get("content", {}).get("application/json", {}).get("examples", {})
    return [example["value"]["detail"] for example in examples.values()]


def _assert_documented(openapi: dict[str, Any], seen: list[tuple[str, str, int, bytes]]) -> None:
    for method, path, status_code, body in seen:
        template = path_template(openapi, method, path)
        operation = openapi["paths"][template][method.lower()]
        where = f"{method} {template} answered {status_code} {body[:200]!r}"
        assert str(status_code) in operation["responses"], f"undocumented status: {where}"
        if 400 <= status_code < 500 and status_code != 422:
            detail = httpx.Response(status_code, content=body).json()["detail"]
            documented = _documented_details(operation["responses"][str(status_code)])
            if isinstance(detail, dict):
                assert detail["code"] in [d["code"] for d in documented if isinstance(d, dict)], where
            else:
                assert detail in documented, f"undocumented detail: {where}"


@pytest.mark.parametrize("requires_verification", [False, True])
async def test_every_answer_is_documented(http_db: SessionMaker, requires_verification: bool) -> None:
    """Each status code and error detail a contract route answers is in its OpenAPI responses."""
    test_app = make_app(http_db, requires_verification=requires_verification, validate_password=reject_short)
    recorder = Recorder(test_app.app)
    transport = httpx.ASGITransport(app=recorder)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if requires_verification:
            await drive_verification_answers(test_app, client)
        else:
            await drive_every_answer(test_app, client)

    openapi = test_app.app.openapi()
    _assert_documented(openapi, recorder.seen)
    driven = {(method, path_template(openapi, method, path)) for method, path, _, _ in recorder.seen}
    if not requires_verification:
        assert set(CONTRACT_ROUTES) <= driven


async def test_success_codes_are_exactly_the_real_ones(http_db: SessionMaker) -> None:
    """Every documented 2xx of a contract route is one it answers: no phantom 200 on cookie login or logout."""
    test_app = make_app(http_db, validate_password=reject_short)
    recorder = Recorder(test_app.app)
    transport = httpx.ASGITransport(app=recorder)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await drive_every_answer(test_app, client)

    openapi = test_app.app.openapi()
    for method, path in CONTRACT_ROUTES:
        documented = {int(code) for code in openapi["paths"][path][method.lower()]["responses"] if code.startswith("2")}
        answered = {
            status for m, raw, status, _ in recorder.seen if (m, path_template(openapi, m, raw)) == (method, path)
        }
        assert documented == {code for code in answered if 200 <= code < 300}, (method, path)


def test_schema_names_and_security(test_app: TestApp) -> None:
    """The schema generates, lists both security schemes, and every contract route under its name."""
    openapi = test_app.app.openapi()

    schemes = openapi["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "auth/jwt/login"
    assert schemes["APIKeyCookie"] == {"type": "apiKey", "in": "cookie", "name": "fastapiusersauth"}
    for (method, path), name in CONTRACT_ROUTES.items():
        params = {"id": "{id}"} if "{id}" in path else {}
        assert test_app.app.url_path_for(name, **params).replace("%7B", "{").replace("%7D", "}") == path
        # FastAPI derives the operationId from the route name, so clients generated from the
        # schema keep FastAPI Users' method names.
        operation_id = openapi["paths"][path][method.lower()]["operationId"]
        assert operation_id.startswith(re.sub(r"\W", "_", name) + "_"), (name, operation_id)
    protected = [
        openapi["paths"][path][method.lower()]
        for method, path in CONTRACT_ROUTES
        if path.startswith("/users") or path.endswith("logout")
    ]
    assert all(operation["security"] == [{"OAuth2PasswordBearer": []}, {"APIKeyCookie": []}] for operation in protected)


def test_bearer_logout_documents_204(test_app: TestApp) -> None:
    """Bearer logout documents 204 and not FastAPI's default 200 (FastAPI Users showed 200)."""
    responses = test_app.app.openapi()["paths"]["/auth/jwt/logout"]["post"]["responses"]

    assert "204" in responses
    assert "200" not in responses
