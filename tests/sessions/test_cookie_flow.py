"""The cookie flow in the browser sense: a cookie jar that honours Path and HttpOnly."""

from __future__ import annotations

from http.cookies import SimpleCookie

from fastapi import Request

from tests.sessions.harness import ABSOLUTE, REFRESH_COOKIE, RefreshHarness
from tests.strategies.apps import COOKIE_NAME


def _set_cookies(headers: list[str]) -> dict[str, SimpleCookie]:
    parsed: dict[str, SimpleCookie] = {}
    for header in headers:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        parsed.update(dict.fromkeys(cookie, cookie))
    return parsed


async def test_login_sets_a_path_scoped_httponly_refresh_cookie(harness: RefreshHarness) -> None:
    """The cookie login sets the access cookie and an HttpOnly refresh cookie scoped to the refresh route."""
    await harness.register("arthur@camelot.bt")

    response = await harness.client.post(
        "/auth/cookie/login", data={"username": "arthur@camelot.bt", "password": "a long passphrase"}
    )

    cookies = _set_cookies(response.headers.get_list("set-cookie"))
    refresh = cookies[REFRESH_COOKIE][REFRESH_COOKIE]
    assert response.status_code == 204
    assert response.content == b""
    assert cookies[COOKIE_NAME][COOKIE_NAME]["path"] == "/"
    assert refresh["path"] == "/auth/cookie/refresh"
    assert refresh["httponly"] is True
    assert refresh["samesite"].lower() == "lax"
    assert int(refresh["max-age"]) == ABSOLUTE


async def test_browser_sends_the_refresh_cookie_only_to_the_refresh_route(harness: RefreshHarness) -> None:
    """A cookie jar keeps both cookies, sends the refresh one only to /refresh, and rotation replaces it."""

    @harness.test_app.app.get("/auth/cookie/echo")
    @harness.test_app.app.get("/echo")
    async def echo(request: Request) -> list[str]:
        return sorted(request.cookies)

    await harness.register("arthur@camelot.bt")
    client = harness.client
    await client.post("/auth/cookie/login", data={"username": "arthur@camelot.bt", "password": "a long passphrase"})
    first_refresh = client.cookies.get(REFRESH_COOKIE)

    elsewhere = (await client.get("/echo")).json()
    sibling = (await client.get("/auth/cookie/echo")).json()
    refreshed = await client.post("/auth/cookie/refresh")
    me = await client.get("/users/me")

    assert elsewhere == sibling == [COOKIE_NAME]
    assert refreshed.status_code == 204
    assert client.cookies.get(REFRESH_COOKIE) not in {None, first_refresh}
    assert me.status_code == 200
    assert (await client.post("/auth/cookie/refresh")).status_code == 204


async def test_failed_cookie_refresh_clears_the_refresh_cookie(harness: RefreshHarness) -> None:
    """A refused cookie refresh answers 401 and clears the refresh cookie at its path."""
    response = await harness.client.post("/auth/cookie/refresh", headers={"Cookie": f"{REFRESH_COOKIE}=bogus"})

    cookies = _set_cookies(response.headers.get_list("set-cookie"))
    assert response.status_code == 401
    assert cookies[REFRESH_COOKIE][REFRESH_COOKIE].value == ""
    assert cookies[REFRESH_COOKIE][REFRESH_COOKIE]["path"] == "/auth/cookie/refresh"
    assert cookies[REFRESH_COOKIE][REFRESH_COOKIE]["max-age"] == "0"


async def test_cross_site_cookie_refresh_is_refused(harness: RefreshHarness) -> None:
    """A cookie refresh that the browser marks cross-site is refused (CSRF), and the session lives on."""
    await harness.register("arthur@camelot.bt")
    pair = await harness.login_pair("cookie", "arthur@camelot.bt")

    response = await harness.client.post(
        "/auth/cookie/refresh",
        headers={
            "Cookie": f"{REFRESH_COOKIE}={pair.refresh}",
            "Origin": "https://evil.example",
            "Sec-Fetch-Site": "cross-site",
        },
    )

    assert response.status_code == 403
    assert await harness.refresh_status(pair) == 204
