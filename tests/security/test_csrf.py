"""CSRF protection of cookie-authenticated requests (T34; ASVS 5.0 3.5.1-3.5.3) and the ``__Host-`` cookie (T33)."""

# No ``from __future__ import annotations``: FastAPI must see the probe route's real annotation,
# which names a local dependency.
from typing import Annotated

import httpx
import pytest
from fastapi import Depends

from fastapi_userkit.authentication import CookieTransport
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.security import CSRFSettings, SecuritySettings
from tests.app_factory import TestApp, make_app
from tests.conftest import EngineFactory, SessionMaker, reset_schema
from tests.models import User

EMAIL = "percival@camelot.bt"
PASSWORD = "holy-grail-quest-99"
AUTH_COOKIE = "fastapiusersauth"
TRUSTED = "https://app.example"
TOKEN_SECRET = "csrf-token-secret-0123456789abcdef0123"
UNSAFE = ["POST", "PUT", "PATCH", "DELETE"]


@pytest.fixture
async def sqlite_db(engine_for: EngineFactory) -> SessionMaker:
    """The test app's schema on SQLite (CSRF checks do not depend on the database)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from tests.models import Base

    engine = await engine_for("sqlite")
    await reset_schema(engine, Base.metadata)
    return async_sessionmaker(engine, expire_on_commit=False)


def csrf_app(session_maker: SessionMaker, csrf: CSRFSettings | None) -> TestApp:
    """The documented app plus ``/probe``, which any method reaches with any authenticated user."""
    app = make_app(session_maker, security=SecuritySettings(rate_limit=None, csrf=csrf))
    current_user = app.fastapi_users.current_user(active=True)

    @app.app.api_route("/probe", methods=["GET", *UNSAFE])
    async def probe(user: Annotated[User, Depends(current_user)]) -> dict[str, str]:
        return {"email": user.email}

    return app


def client_for(app: TestApp) -> httpx.AsyncClient:
    """A client without a cookie jar in use: tests send cookies explicitly."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app.app), base_url="http://test")


async def sign_in(app: TestApp) -> tuple[str, str, httpx.Response]:
    """Register, then log in through both backends; return (cookie token, bearer token, cookie login)."""
    async with client_for(app) as client:
        created = await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert created.status_code == 201, created.text
        cookie_login = await client.post("/auth/cookie/login", data={"username": EMAIL, "password": PASSWORD})
        bearer_login = await client.post("/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD})
    assert cookie_login.status_code == 204, cookie_login.text
    return cookie_login.cookies[AUTH_COOKIE], bearer_login.json()["access_token"], cookie_login


def browser_headers(site: str | None, origin: str | None) -> dict[str, str]:
    """The headers a browser (or not) would send."""
    headers: dict[str, str] = {}
    if site is not None:
        headers["Sec-Fetch-Site"] = site
    if origin is not None:
        headers["Origin"] = origin
    return headers


MATRIX = [
    pytest.param(None, None, True, id="no-headers-non-browser"),
    pytest.param("same-origin", None, True, id="sfs-same-origin"),
    pytest.param("none", None, True, id="sfs-none-user-initiated"),
    pytest.param("same-origin", "http://test", True, id="sfs-same-origin-with-origin"),
    pytest.param(None, "http://test", True, id="origin-same"),
    pytest.param(None, "http://test:80", True, id="origin-same-default-port"),
    pytest.param("cross-site", TRUSTED, True, id="cross-site-trusted-origin"),
    pytest.param("cross-site", None, False, id="sfs-cross-site"),
    pytest.param("cross-site", "https://evil.example", False, id="cross-site-evil-origin"),
    pytest.param("same-site", None, False, id="sfs-same-site"),
    pytest.param("same-site", "http://sub.test", False, id="same-site-sibling-origin"),
    pytest.param(None, "https://evil.example", False, id="origin-evil"),
    pytest.param(None, "https://test", False, id="origin-other-scheme"),
    pytest.param(None, "null", False, id="origin-null"),
    pytest.param("bogus", None, False, id="sfs-unknown-value"),
]


@pytest.mark.parametrize(("site", "origin", "allowed"), MATRIX)
async def test_cookie_requests_matrix(
    sqlite_db: SessionMaker, site: str | None, origin: str | None, allowed: bool
) -> None:
    """Cookie-authenticated unsafe methods pass or get 403 by Sec-Fetch-Site/Origin; GET and bearer always pass."""
    app = csrf_app(sqlite_db, CSRFSettings(trusted_origins=(TRUSTED,)))
    cookie_token, bearer_token, _ = await sign_in(app)
    headers = browser_headers(site, origin)

    async with client_for(app) as client:
        by_cookie = {
            method: await client.request(
                method, "/probe", headers={**headers, "Cookie": f"{AUTH_COOKIE}={cookie_token}"}
            )
            for method in ["GET", *UNSAFE]
        }
        by_bearer = {
            method: await client.request(
                method, "/probe", headers={**headers, "Authorization": f"Bearer {bearer_token}"}
            )
            for method in UNSAFE
        }

    assert by_cookie.pop("GET").status_code == 200
    for method, response in by_cookie.items():
        if allowed:
            assert response.status_code == 200, (method, response.text)
        else:
            assert response.status_code == 403, (method, response.text)
            assert response.json() == {"detail": "CSRF_CROSS_SITE_REQUEST"}
    assert {response.status_code for response in by_bearer.values()} == {200}


async def test_cookie_logout_is_checked(sqlite_db: SessionMaker) -> None:
    """A cross-site logout through the cookie backend is refused; a same-origin one works."""
    app = csrf_app(sqlite_db, CSRFSettings())
    cookie_token, _, _ = await sign_in(app)
    cookie = {"Cookie": f"{AUTH_COOKIE}={cookie_token}"}

    async with client_for(app) as client:
        cross = await client.post("/auth/cookie/logout", headers={**cookie, "Sec-Fetch-Site": "cross-site"})
        same = await client.post("/auth/cookie/logout", headers={**cookie, "Sec-Fetch-Site": "same-origin"})

    assert cross.status_code == 403
    assert same.status_code == 204


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}],
    ids=["sec-fetch-site", "origin"],
)
async def test_login_csrf_is_blocked_on_the_cookie_backend(http_db: SessionMaker, headers: dict[str, str]) -> None:
    """A cross-site login form cannot plant a session cookie; the bearer login is not affected."""
    app = csrf_app(http_db, CSRFSettings())
    await sign_in(app)
    form = {"username": EMAIL, "password": PASSWORD}

    async with client_for(app) as client:
        cookie_login = await client.post("/auth/cookie/login", data=form, headers=headers)
        bearer_login = await client.post("/auth/jwt/login", data=form, headers=headers)

    assert cookie_login.status_code == 403
    assert cookie_login.json() == {"detail": "CSRF_CROSS_SITE_REQUEST"}
    assert "set-cookie" not in cookie_login.headers
    assert bearer_login.status_code == 200


async def test_same_site_is_accepted_when_allowed(sqlite_db: SessionMaker) -> None:
    """``allow_same_site=True`` accepts a sibling subdomain; cross-site stays refused."""
    app = csrf_app(sqlite_db, CSRFSettings(allow_same_site=True))
    cookie_token, _, _ = await sign_in(app)
    cookie = {"Cookie": f"{AUTH_COOKIE}={cookie_token}"}

    async with client_for(app) as client:
        sibling = await client.post(
            "/probe", headers={**cookie, "Sec-Fetch-Site": "same-site", "Origin": "http://a.test"}
        )
        cross = await client.post("/probe", headers={**cookie, "Sec-Fetch-Site": "cross-site"})

    assert sibling.status_code == 200
    assert cross.status_code == 403


async def test_one_setting_turns_csrf_off(sqlite_db: SessionMaker) -> None:
    """With ``csrf=None`` a cross-site cookie request and login pass."""
    app = csrf_app(sqlite_db, None)
    cookie_token, _, _ = await sign_in(app)

    async with client_for(app) as client:
        response = await client.post(
            "/probe", headers={"Cookie": f"{AUTH_COOKIE}={cookie_token}", "Sec-Fetch-Site": "cross-site"}
        )
        login = await client.post(
            "/auth/cookie/login",
            data={"username": EMAIL, "password": PASSWORD},
            headers={"Sec-Fetch-Site": "cross-site"},
        )

    assert response.status_code == 200
    assert login.status_code == 204


async def test_token_mode(http_db: SessionMaker) -> None:
    """Token mode: login sets a signed token cookie; unsafe cookie requests must echo it in X-CSRF-Token."""
    app = csrf_app(http_db, CSRFSettings(mode="token", token_secret=TOKEN_SECRET))
    cookie_token, bearer_token, cookie_login = await sign_in(app)
    csrf_token = cookie_login.cookies["userkit-csrf"]
    cookies = f"{AUTH_COOKIE}={cookie_token}; userkit-csrf={csrf_token}"

    async with client_for(app) as client:
        missing = await client.post("/probe", headers={"Cookie": cookies})
        wrong = await client.post("/probe", headers={"Cookie": cookies, "X-CSRF-Token": csrf_token + "x"})
        good = await client.post("/probe", headers={"Cookie": cookies, "X-CSRF-Token": csrf_token})
        cross = await client.post(
            "/probe", headers={"Cookie": cookies, "X-CSRF-Token": csrf_token, "Sec-Fetch-Site": "cross-site"}
        )
        forged = "attacker-nonce.attacker-signature"
        unsigned = await client.post(
            "/probe", headers={"Cookie": f"{AUTH_COOKIE}={cookie_token}; userkit-csrf={forged}", "X-CSRF-Token": forged}
        )
        get = await client.get("/probe", headers={"Cookie": cookies})
        bearer = await client.post("/probe", headers={"Authorization": f"Bearer {bearer_token}"})
        logout = await client.post("/auth/cookie/logout", headers={"Cookie": cookies, "X-CSRF-Token": csrf_token})

    assert [missing.status_code, wrong.status_code, unsigned.status_code] == [403, 403, 403]
    assert missing.json() == {"detail": "CSRF_TOKEN_INVALID"}
    assert good.status_code == 200
    assert cross.json() == {"detail": "CSRF_CROSS_SITE_REQUEST"}
    assert get.status_code == 200
    assert bearer.status_code == 200
    assert logout.status_code == 204
    assert any(h.startswith("userkit-csrf=") and "Max-Age=0" in h for h in logout.headers.get_list("set-cookie"))


def test_token_cookie_is_host_prefixed_for_secure_transports() -> None:
    """The token cookie takes the ``__Host-`` prefix when the auth cookie is ``Secure``."""
    protection = SecuritySettings(csrf=CSRFSettings(mode="token", token_secret=TOKEN_SECRET)).csrf_protection()

    assert protection is not None
    assert protection.cookie_name(CookieTransport()) == "__Host-userkit-csrf"
    assert protection.cookie_name(CookieTransport(cookie_secure=False)) == "userkit-csrf"


@pytest.mark.parametrize(
    "settings",
    [
        {"mode": "token"},
        {"mode": "token", "token_secret": "short"},
        {"mode": "other"},
        {"trusted_origins": ("https://app.example/path",)},
        {"trusted_origins": ("app.example",)},
        {"trusted_origins": ("https://app.example:99999",)},
    ],
)
def test_bad_csrf_settings_fail_at_construction(settings: dict[str, object]) -> None:
    """Token mode without a 32-byte secret, an unknown mode or a malformed origin raise ConfigurationError."""
    with pytest.raises(ConfigurationError):
        CSRFSettings(**settings)  # type: ignore[arg-type]  # deliberately wrong values


def test_trusted_origins_are_normalised() -> None:
    """Trusted origins are compared in canonical form (lower-case host, default port dropped)."""
    settings = CSRFSettings(trusted_origins=("HTTPS://App.Example:443/", "http://[::1]:8080"))

    assert settings.trusted_origins == ("https://app.example", "http://[::1]:8080")


def test_secret_is_not_in_the_repr() -> None:
    """The token secret never shows in a repr (logs, tracebacks)."""
    assert TOKEN_SECRET not in repr(CSRFSettings(mode="token", token_secret=TOKEN_SECRET))


async def test_host_prefix_cookie(sqlite_db: SessionMaker) -> None:
    """``cookie_host_prefix=True`` names the cookie ``__Host-...`` with Secure, Path=/ and no Domain."""
    transport = CookieTransport(cookie_host_prefix=True)

    response = await transport.get_login_response("token-value")

    header = response.headers["set-cookie"]
    assert transport.cookie_name == "__Host-fastapiusersauth"
    assert header.startswith("__Host-fastapiusersauth=token-value;")
    assert "Secure" in header
    assert "Path=/" in header
    assert "Domain" not in header


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cookie_host_prefix": True, "cookie_secure": False},
        {"cookie_host_prefix": True, "cookie_domain": "camelot.bt"},
        {"cookie_host_prefix": True, "cookie_path": "/auth"},
        {"cookie_name": "__Host-session", "cookie_secure": False},
        {"cookie_name": "__Secure-session", "cookie_secure": False},
    ],
)
def test_prefixed_cookie_rules_are_enforced_at_construction(kwargs: dict[str, object]) -> None:
    """A ``__Host-``/``__Secure-`` cookie a browser would drop is refused when the transport is built."""
    with pytest.raises(ConfigurationError):
        CookieTransport(**kwargs)  # type: ignore[arg-type]  # values typed loosely for the table


def test_unprefixed_cookie_keeps_fastapi_users_defaults() -> None:
    """Without the option the cookie keeps FastAPI Users' name and accepts a Domain (compatibility)."""
    transport = CookieTransport(cookie_domain="camelot.bt", cookie_secure=False)

    assert transport.cookie_name == "fastapiusersauth"
