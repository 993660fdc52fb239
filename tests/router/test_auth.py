"""Contract §2.1: ``POST /login`` and ``POST /logout`` of the Bearer and cookie backends."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, CookieTransport, JWTStrategy
from fastapi_userkit.authentication.strategy.db import DatabaseStrategy
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from tests.app_factory import SECRET, TestApp, make_app
from tests.conftest import SessionMaker
from tests.models import AccessToken, User
from tests.router.helpers import PASSWORD, bearer, client_for, create_user, login, parse_set_cookie

BAD_CREDENTIALS = {"detail": "LOGIN_BAD_CREDENTIALS"}


def test_route_names(test_app: TestApp) -> None:
    """Every auth route is reachable under its contract name."""
    app = test_app.app

    paths = {
        name: app.url_path_for(name)
        for name in ("auth:jwt.login", "auth:jwt.logout", "auth:cookie.login", "auth:cookie.logout")
    }

    assert paths == {
        "auth:jwt.login": "/auth/jwt/login",
        "auth:jwt.logout": "/auth/jwt/logout",
        "auth:cookie.login": "/auth/cookie/login",
        "auth:cookie.logout": "/auth/cookie/logout",
    }


async def test_bearer_login_body(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A Bearer login answers 200 with exactly the token and its type, and calls on_after_login."""
    user = await create_user(test_app)

    response = await client.post("/auth/jwt/login", data={"username": "USER@example.com", "password": PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type"}
    assert body["token_type"] == "bearer"
    assert isinstance(body["access_token"], str)
    assert body["access_token"]
    assert test_app.hooks.last("on_after_login")["user"].id == user.id
    assert test_app.hooks.last("on_after_login")["response"] is not None
    me = await client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.json()["id"] == str(user.id)


@pytest.mark.parametrize("backend", ["jwt", "cookie"])
async def test_bad_credentials_are_indistinguishable(
    test_app: TestApp, client: httpx.AsyncClient, backend: str
) -> None:
    """Unknown e-mail, wrong password and inactive user get the same status, body and headers."""
    await create_user(test_app, "known@example.com")
    await create_user(test_app, "inactive@example.com", is_active=False)
    url = f"/auth/{backend}/login"

    unknown = await client.post(url, data={"username": "nobody@example.com", "password": PASSWORD})
    wrong = await client.post(url, data={"username": "known@example.com", "password": "not the password"})
    inactive = await client.post(url, data={"username": "inactive@example.com", "password": PASSWORD})

    answers = [(r.status_code, r.json(), sorted(r.headers.items())) for r in (unknown, wrong, inactive)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][:2] == (400, BAD_CREDENTIALS)
    assert "on_after_login" not in test_app.hooks.names()


async def test_login_requires_verification(http_db: SessionMaker) -> None:
    """With requires_verification an unverified user gets LOGIN_USER_NOT_VERIFIED, a verified one a token."""
    test_app = make_app(http_db, requires_verification=True)
    await create_user(test_app, "unverified@example.com")
    await create_user(test_app, "verified@example.com", is_verified=True)
    await create_user(test_app, "inactive@example.com", is_active=False)

    async with client_for(test_app.app) as client:
        unverified = await client.post(
            "/auth/jwt/login", data={"username": "unverified@example.com", "password": PASSWORD}
        )
        verified = await client.post("/auth/jwt/login", data={"username": "verified@example.com", "password": PASSWORD})
        inactive = await client.post("/auth/jwt/login", data={"username": "inactive@example.com", "password": PASSWORD})

    assert (unverified.status_code, unverified.json()) == (400, {"detail": "LOGIN_USER_NOT_VERIFIED"})
    assert verified.status_code == 200
    assert (inactive.status_code, inactive.json()) == (400, BAD_CREDENTIALS)


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"username": "user@example.com"},
        {"password": PASSWORD},
        {"username": "user@example.com", "password": PASSWORD, "grant_type": "client_credentials"},
    ],
    ids=["empty", "no-password", "no-username", "wrong-grant-type"],
)
async def test_login_invalid_form(test_app: TestApp, client: httpx.AsyncClient, form: dict[str, str]) -> None:
    """A login form with a missing field (or a grant type other than password) is a 422."""
    await create_user(test_app)

    response = await client.post("/auth/jwt/login", data=form)

    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


async def test_login_accepts_password_grant_type(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """The optional OAuth2 ``grant_type=password`` field is accepted."""
    await create_user(test_app)

    response = await client.post(
        "/auth/jwt/login", data={"username": "user@example.com", "password": PASSWORD, "grant_type": "password"}
    )

    assert response.status_code == 200


async def test_cookie_login_sets_cookie(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A cookie login answers 204 without a body and sets an HttpOnly, Path=/, SameSite=lax session cookie."""
    user = await create_user(test_app)

    response = await client.post("/auth/cookie/login", data={"username": "user@example.com", "password": PASSWORD})

    assert response.status_code == 204
    assert response.content == b""
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1
    name, value, attributes = parse_set_cookie(headers[0])
    assert name == "fastapiusersauth"
    assert value
    assert attributes == {"httponly": "", "path": "/", "samesite": "lax"}  # make_app turns Secure off
    client.cookies.clear()
    me = await client.get("/users/me", headers={"Cookie": f"fastapiusersauth={value}"})
    assert me.json()["id"] == str(user.id)


async def test_cookie_max_age(http_db: SessionMaker) -> None:
    """A cookie transport with cookie_max_age sets Max-Age on the login cookie."""
    transport = CookieTransport(cookie_name="kept", cookie_max_age=600, cookie_secure=False)
    backend = AuthenticationBackend[User, uuid.UUID](
        "kept-cookie", transport, lambda: JWTStrategy[User, uuid.UUID](SECRET, 600)
    )
    test_app = make_app(http_db, extra_backends=[backend])
    await create_user(test_app)

    async with client_for(test_app.app) as client:
        response = await client.post(
            test_app.app.url_path_for("auth:kept-cookie.login"),
            data={"username": "user@example.com", "password": PASSWORD},
        )

    name, _, attributes = parse_set_cookie(response.headers["set-cookie"])
    assert (response.status_code, name, attributes["max-age"]) == (204, "kept", "600")


async def test_bearer_logout(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A Bearer logout answers 204 with no body and no cookie."""
    await create_user(test_app)
    token = await login(client)

    response = await client.post("/auth/jwt/logout", headers=bearer(token))

    assert response.status_code == 204
    assert response.content == b""
    assert "set-cookie" not in response.headers


async def test_cookie_logout_clears_cookie(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A cookie logout answers 204 and clears the cookie with Max-Age=0 and the same attributes."""
    await create_user(test_app)
    login_response = await client.post(
        "/auth/cookie/login", data={"username": "user@example.com", "password": PASSWORD}
    )
    _, token, _ = parse_set_cookie(login_response.headers["set-cookie"])
    client.cookies.clear()

    response = await client.post("/auth/cookie/logout", headers={"Cookie": f"fastapiusersauth={token}"})

    assert response.status_code == 204
    name, value, attributes = parse_set_cookie(response.headers["set-cookie"])
    assert (name, value) == ("fastapiusersauth", "")
    assert attributes == {"httponly": "", "max-age": "0", "path": "/", "samesite": "lax"}


@pytest.mark.parametrize("backend", ["jwt", "cookie"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-jwt"}], ids=["no-token", "bad-token"])
async def test_logout_without_valid_token(client: httpx.AsyncClient, backend: str, headers: dict[str, str]) -> None:
    """Logging out without a valid token is a 401 Unauthorized."""
    response = await client.post(f"/auth/{backend}/logout", headers=headers)

    assert (response.status_code, response.json()) == (401, {"detail": "Unauthorized"})


async def test_logout_of_deactivated_user(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A user deactivated after login cannot log out: 401."""
    user = await create_user(test_app)
    token = await login(client)
    async with test_app.session_maker() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.is_active = False
        await session.commit()

    response = await client.post("/auth/jwt/logout", headers=bearer(token))

    assert response.status_code == 401


async def test_logout_requires_verification(http_db: SessionMaker) -> None:
    """With requires_verification an unverified user's logout is a 403 Forbidden."""
    test_app = make_app(http_db, requires_verification=True)
    await create_user(test_app)
    token = await JWTStrategy[User, uuid.UUID](SECRET, 3600).write_token(await create_user(test_app, "u2@example.com"))

    async with client_for(test_app.app) as client:
        response = await client.post("/auth/jwt/logout", headers=bearer(token))

    assert (response.status_code, response.json()) == (403, {"detail": "Forbidden"})


async def test_plain_strategy_factory_runs_on_the_loop_once_per_request(http_db: SessionMaker) -> None:
    """Login and logout call a plain ``def`` factory with a parameter on the loop's thread, not in the pool.

    On logout the route and its user dependency declare the same callable, so FastAPI builds one strategy.
    """
    calls: list[int] = []

    def build(get_session: Any) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
        def get_strategy(
            session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
        ) -> DatabaseStrategy[Any, Any, Any]:
            calls.append(threading.get_ident())
            return DatabaseStrategy(SQLAlchemyAccessTokenDatabase(session, AccessToken), 3600)

        return {"bearer": AuthenticationBackend("bearer", BearerTransport("auth/bearer/login"), get_strategy)}

    test_app = make_app(http_db, backends_factory=build)
    await create_user(test_app)
    loop_thread = threading.get_ident()
    async with client_for(test_app.app) as client:
        response = await client.post("/auth/bearer/login", data={"username": "user@example.com", "password": PASSWORD})
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        assert calls == [loop_thread]
        calls.clear()
        assert (await client.post("/auth/bearer/logout", headers=bearer(token))).status_code == 204
        assert calls == [loop_thread]
        assert (await client.get("/users/me", headers=bearer(token))).status_code == 401
