"""Transports (Bearer, cookie) and the backend that pairs one with a strategy."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.openapi.models import OAuth2
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer

from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, CookieTransport, JWTStrategy
from fastapi_userkit.authentication.strategy import StrategyDestroyNotSupportedError
from fastapi_userkit.authentication.transport import BearerResponse, TransportLogoutNotSupportedError
from fastapi_userkit.manager import BaseUserManager
from tests.app_factory import SECRET
from tests.authentication.conftest import add_user
from tests.conftest import SessionMaker
from tests.models import User
from tests.router.helpers import parse_set_cookie


class RecordingStrategy(JWTStrategy[User, uuid.UUID]):
    """A JWT strategy that notes which tokens it was asked to destroy."""

    def __init__(self) -> None:
        super().__init__(SECRET, 3600)
        self.destroyed: list[str] = []

    async def destroy_token(self, token: str, user: User) -> None:
        """Record the token instead of refusing."""
        self.destroyed.append(token)


# -- Bearer ------------------------------------------------------------------------------------


async def test_bearer_login_response() -> None:
    """Bearer login is 200 JSON with exactly access_token and token_type."""
    response = await BearerTransport("auth/jwt/login").get_login_response("the-token")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert json.loads(bytes(response.body)) == {"access_token": "the-token", "token_type": "bearer"}


async def test_bearer_logout_not_supported() -> None:
    """Bearer logout raises TransportLogoutNotSupportedError (the backend answers 204)."""
    with pytest.raises(TransportLogoutNotSupportedError):
        await BearerTransport("auth/jwt/login").get_logout_response()


def test_bearer_scheme_and_openapi() -> None:
    """The Bearer scheme points OpenAPI at the login URL and never raises by itself; docs list 200 and 204."""
    transport = BearerTransport("auth/jwt/login")

    assert isinstance(transport.scheme, OAuth2PasswordBearer)
    assert transport.scheme.auto_error is False
    model = transport.scheme.model
    assert isinstance(model, OAuth2)
    assert model.flows.password is not None
    assert model.flows.password.tokenUrl == "auth/jwt/login"
    assert BearerTransport.get_openapi_login_responses_success()[200]["model"] is BearerResponse
    assert list(BearerTransport.get_openapi_logout_responses_success()) == [204]


# -- Cookie ------------------------------------------------------------------------------------


async def test_cookie_defaults() -> None:
    """The default cookie is FastAPI Users' one: fastapiusersauth, Secure, HttpOnly, SameSite=lax, Path=/."""
    response = await CookieTransport().get_login_response("the-token")

    name, value, attributes = parse_set_cookie(response.headers["set-cookie"])
    assert (response.status_code, response.body) == (204, b"")
    assert (name, value) == ("fastapiusersauth", "the-token")
    assert attributes == {"httponly": "", "path": "/", "samesite": "lax", "secure": ""}


async def test_cookie_custom_attributes() -> None:
    """Every cookie setting reaches the Set-Cookie header of login and logout."""
    transport = CookieTransport(
        cookie_name="session",
        cookie_max_age=3600,
        cookie_path="/app",
        cookie_domain="example.com",
        cookie_secure=True,
        cookie_httponly=False,
        cookie_samesite="strict",
    )

    login = await transport.get_login_response("the-token")
    logout = await transport.get_logout_response()

    expected = {"domain": "example.com", "path": "/app", "samesite": "strict", "secure": ""}
    assert parse_set_cookie(login.headers["set-cookie"]) == ("session", "the-token", {**expected, "max-age": "3600"})
    assert parse_set_cookie(logout.headers["set-cookie"]) == ("session", "", {**expected, "max-age": "0"})
    assert (logout.status_code, logout.body) == (204, b"")


async def test_cookie_samesite_none() -> None:
    """SameSite=none is passed through (browsers then require Secure, which stays on by default)."""
    response = await CookieTransport(cookie_samesite="none").get_login_response("t")

    attributes = parse_set_cookie(response.headers["set-cookie"])[2]
    assert (attributes["samesite"], "secure" in attributes) == ("none", True)


def test_cookie_scheme_and_openapi() -> None:
    """The cookie scheme reads the configured cookie and never raises by itself; docs list only 204."""
    transport = CookieTransport(cookie_name="session")

    assert isinstance(transport.scheme, APIKeyCookie)
    assert transport.scheme.model.name == "session"
    assert transport.scheme.auto_error is False
    assert list(CookieTransport.get_openapi_login_responses_success()) == [204]
    assert list(CookieTransport.get_openapi_logout_responses_success()) == [204]


# -- Backend -----------------------------------------------------------------------------------


async def test_backend_login_issues_a_token(
    sqlite_db: SessionMaker, user_manager: BaseUserManager[User, uuid.UUID]
) -> None:
    """login writes a token with the strategy and hands it to the transport."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    backend = AuthenticationBackend[User, uuid.UUID]("jwt", BearerTransport("login"), lambda: strategy)

    response = await backend.login(strategy, user)

    token = json.loads(bytes(response.body))["access_token"]
    read = await strategy.read_token(token, user_manager)
    assert read is not None
    assert read.id == user.id


async def test_backend_logout_destroys_the_token(sqlite_db: SessionMaker) -> None:
    """logout asks the strategy to destroy the token, then returns the transport's response."""
    user = await add_user(sqlite_db)
    strategy = RecordingStrategy()
    backend = AuthenticationBackend[User, uuid.UUID]("cookie", CookieTransport(), lambda: strategy)

    response = await backend.logout(strategy, user, "the-token")

    assert strategy.destroyed == ["the-token"]
    assert parse_set_cookie(response.headers["set-cookie"])[2]["max-age"] == "0"


async def test_backend_logout_without_destroy_or_transport_support(sqlite_db: SessionMaker) -> None:
    """A strategy that cannot destroy and a transport with nothing to send still give a bare 204."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    backend = AuthenticationBackend[User, uuid.UUID]("jwt", BearerTransport("login"), lambda: strategy)
    with pytest.raises(StrategyDestroyNotSupportedError):
        await strategy.destroy_token("t", user)

    response = await backend.logout(strategy, user, "t")

    assert (response.status_code, response.body) == (204, b"")


def test_backend_identity() -> None:
    """Backends compare and hash by identity (two backends may share a transport) and show their name."""
    transport = BearerTransport("login")
    first = AuthenticationBackend[User, uuid.UUID]("jwt", transport, RecordingStrategy)
    twin = AuthenticationBackend[User, uuid.UUID]("jwt", transport, RecordingStrategy)

    assert first == first  # noqa: PLR0124 - equality with itself is the behaviour under test
    assert first != twin
    assert len({first, twin}) == 2
    assert repr(first) == "AuthenticationBackend(name='jwt')"
