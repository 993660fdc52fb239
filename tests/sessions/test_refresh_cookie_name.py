"""The refresh cookie cannot be shadowed: a prefixed name when Secure, and duplicates refused (issue 16, item 9)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from fastapi_userkit.authentication import AuthenticationBackend, CookieTransport, JWTStrategy
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.sessions import RefreshSettings
from fastapi_userkit.sessions.errors import DuplicateRefreshCookie
from tests.app_factory import SECRET, make_app
from tests.conftest import SessionMaker
from tests.models import RefreshToken, User, UserSession

PASSWORD = "a long passphrase"


def _cookie_app(session_maker: SessionMaker, transport: CookieTransport) -> httpx.AsyncClient:
    """The documented app plus a cookie backend ``web`` with ``transport`` and refresh on; an HTTPS client."""

    def get_strategy() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, 3600)

    refresh = RefreshSettings(store=SQLAlchemySessionStore(session_maker, UserSession, RefreshToken), secret=SECRET)
    backend = AuthenticationBackend[User, uuid.UUID]("web", transport, get_strategy, refresh=refresh)
    test_app = make_app(session_maker, extra_backends=[backend])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=test_app.app), base_url="https://test")


@pytest.fixture
async def secure_client(http_db: SessionMaker) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose ``web`` cookie backend has Secure cookies (the default)."""
    async with _cookie_app(http_db, CookieTransport(cookie_name="webauth")) as client:
        yield client


async def _login(client: httpx.AsyncClient) -> dict[str, SimpleCookie]:
    response = await client.post("/auth/register", json={"email": "arthur@camelot.bt", "password": PASSWORD})
    assert response.status_code == 201, response.text
    response = await client.post("/auth/web/login", data={"username": "arthur@camelot.bt", "password": PASSWORD})
    assert response.status_code == 204, response.text
    parsed: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        parsed.update(dict.fromkeys(cookie, cookie))
    return parsed


async def test_secure_refresh_cookie_has_the_secure_prefix(secure_client: httpx.AsyncClient) -> None:
    """With Secure cookies the refresh cookie is __Secure-fastapiusersrefresh, scoped to /refresh, and refreshes."""
    cookies = await _login(secure_client)

    name = "__Secure-fastapiusersrefresh"
    refresh = cookies[name][name]
    refreshed = await secure_client.post("/auth/web/refresh")

    assert "fastapiusersrefresh" not in cookies
    assert (refresh["path"], refresh["secure"], refresh["httponly"]) == ("/auth/web/refresh", True, True)
    assert refreshed.status_code == 204
    assert name in {cookie.name for cookie in secure_client.cookies.jar}


async def test_host_prefixed_transport_gets_a_host_prefixed_refresh_cookie(http_db: SessionMaker) -> None:
    """With cookie_host_prefix the refresh cookie is __Host- too: Path=/, no Domain, and it refreshes."""
    transport = CookieTransport(cookie_name="webauth", cookie_host_prefix=True)
    async with _cookie_app(http_db, transport) as client:
        cookies = await _login(client)
        refreshed = await client.post("/auth/web/refresh")
        logged_out = await client.post("/auth/web/logout")

    name = "__Host-fastapiusersrefresh"
    refresh = cookies[name][name]
    assert (refresh["path"], refresh["domain"], refresh["secure"]) == ("/", "", True)
    assert refreshed.status_code == 204
    assert logged_out.status_code == 204
    assert name not in {cookie.name for cookie in client.cookies.jar}


async def test_two_refresh_cookies_are_refused(secure_client: httpx.AsyncClient) -> None:
    """Two refresh cookies in one request: 401 REFRESH_COOKIE_DUPLICATED, nothing cleared; the real one still works."""
    await _login(secure_client)
    name = "__Secure-fastapiusersrefresh"
    real = secure_client.cookies.get(name)
    secure_client.cookies.clear()

    planted = await secure_client.post("/auth/web/refresh", headers={"Cookie": f"{name}=planted; {name}={real}"})
    split = await secure_client.post(
        "/auth/web/refresh", headers=[("cookie", f"{name}={real}"), ("cookie", f"other=1; {name} = planted")]
    )
    alone = await secure_client.post("/auth/web/refresh", headers={"Cookie": f"webauth=x; {name}={real}"})

    assert (planted.status_code, planted.json()) == (401, {"detail": "REFRESH_COOKIE_DUPLICATED"})
    assert "set-cookie" not in planted.headers
    assert split.status_code == 401
    assert alone.status_code == 204


def test_cookie_names_by_transport() -> None:
    """The prefix follows the transport: none without Secure, kept when the configured name already has one."""
    assert CookieTransport(cookie_secure=False).refresh_cookie_name("r") == "r"
    assert CookieTransport().refresh_cookie_name("r") == "__Secure-r"
    assert CookieTransport(cookie_host_prefix=True).refresh_cookie_name("r") == "__Host-r"
    assert CookieTransport(cookie_host_prefix=True).refresh_cookie_name("__Secure-r") == "__Secure-r"


_NAMES = st.sampled_from(["__Secure-fastapiusersrefresh", "webauth", "other", "fastapiusersrefresh"])
_VALUES = st.text(alphabet="abcXYZ0123456789-_.", max_size=12)


@given(pairs=st.lists(st.tuples(_NAMES, _VALUES), max_size=6), split=st.booleans())
def test_refresh_cookie_is_read_only_when_sent_once(pairs: list[tuple[str, str]], split: bool) -> None:
    """For any Cookie header(s): two or more refresh cookies are refused, one is returned, none gives None."""
    transport = CookieTransport()
    pieces = [f"{name}={value}" for name, value in pairs]
    headers = [("cookie", piece) for piece in pieces] if split else [("cookie", "; ".join(pieces))] * bool(pieces)
    scope = {"type": "http", "headers": [(key.encode(), value.encode()) for key, value in headers]}
    request = Request(scope)
    sent = [value for name, value in pairs if name == "__Secure-fastapiusersrefresh"]

    if len(sent) > 1:
        with pytest.raises(DuplicateRefreshCookie):
            transport.get_refresh_token(request, None, "fastapiusersrefresh")
    else:
        found = transport.get_refresh_token(request, None, "fastapiusersrefresh")
        assert found == (sent[0] if sent else None)
