"""Tokens in an HTTP-only cookie."""

from __future__ import annotations

from typing import Literal

from fastapi import Response, status
from fastapi.security import APIKeyCookie
from starlette.requests import HTTPConnection

from fastapi_userkit.authentication.transport.base import Transport
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.openapi import OpenAPIResponseType
from fastapi_userkit.sessions.errors import DuplicateRefreshCookie
from fastapi_userkit.sessions.models import RefreshCookie

__all__ = ["CookieTransport"]


_HOST_PREFIX = "__Host-"
_SECURE_PREFIX = "__Secure-"


def _check_prefix(name: str, path: str, domain: str | None, secure: bool) -> None:
    # Browsers silently drop a prefixed cookie that breaks its prefix's rules (RFC 6265bis
    # 4.1.3): refusing the configuration here turns a login that "does nothing" into a clear error.
    if name.startswith(_HOST_PREFIX) and (not secure or domain is not None or path != "/"):
        raise ConfigurationError("A __Host- cookie must be Secure, with Path=/ and no Domain.")
    if name.startswith(_SECURE_PREFIX) and not secure:
        raise ConfigurationError("A __Secure- cookie must be Secure.")


class CookieTransport(Transport):
    """Sets the token as a cookie at login and clears it at logout.

    The defaults are FastAPI Users' (``Secure``, ``HttpOnly``, ``SameSite=lax``, ``Path=/``).
    ``Secure`` cookies are not sent over plain HTTP: set ``cookie_secure=False`` for local
    development only.

    Args:
        cookie_name: The cookie's name.
        cookie_max_age: Lifetime in seconds; ``None`` makes a session cookie.
        cookie_path: The cookie's ``Path``.
        cookie_domain: The cookie's ``Domain``; ``None`` keeps it to the exact host.
        cookie_secure: Send it over HTTPS only.
        cookie_httponly: Hide it from JavaScript.
        cookie_samesite: The ``SameSite`` attribute.
        cookie_host_prefix: Prefix the name with ``__Host-`` (new in fastapi-userkit): browsers
            then accept the cookie only if it is ``Secure``, for ``Path=/`` and without
            ``Domain``, so no subdomain can set or shadow it (RFC 6265bis 4.1.3.2; ASVS 5.0
            3.3.1, 3.3.3). The refresh-token cookie (refresh on) becomes ``__Host-`` too, and
            so has ``Path=/`` instead of the refresh route's path.

    With refresh on and ``Secure`` cookies, the refresh-token cookie's name starts with
    ``__Secure-`` (``__Host-`` with ``cookie_host_prefix``), and a refresh request that carries
    more than one refresh-token cookie is refused (see :meth:`get_refresh_token`).

    Raises:
        ConfigurationError: A ``__Host-`` cookie (by option or by name) that is not ``Secure``,
            has a ``Domain`` or a path other than ``/``; a ``__Secure-`` cookie that is not ``Secure``.
    """

    scheme: APIKeyCookie

    def __init__(
        self,
        cookie_name: str = "fastapiusersauth",
        cookie_max_age: int | None = None,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        cookie_secure: bool = True,
        cookie_httponly: bool = True,
        cookie_samesite: Literal["lax", "strict", "none"] = "lax",
        *,
        cookie_host_prefix: bool = False,
    ) -> None:
        if cookie_host_prefix and not cookie_name.startswith(_HOST_PREFIX):
            cookie_name = _HOST_PREFIX + cookie_name
        _check_prefix(cookie_name, cookie_path, cookie_domain, cookie_secure)
        self.cookie_name = cookie_name
        self.cookie_max_age = cookie_max_age
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.cookie_secure = cookie_secure
        self.cookie_httponly = cookie_httponly
        self.cookie_samesite = cookie_samesite
        self.scheme = APIKeyCookie(name=self.cookie_name, auto_error=False)

    async def get_login_response(self, token: str) -> Response:
        """Return ``204`` with the token cookie set."""
        return self.set_login_cookie(Response(status_code=status.HTTP_204_NO_CONTENT), token)

    async def get_logout_response(self) -> Response:
        """Return ``204`` with the cookie cleared (empty value, ``Max-Age=0``)."""
        return self._set_logout_cookie(Response(status_code=status.HTTP_204_NO_CONTENT))

    def set_login_cookie(self, response: Response, token: str) -> Response:
        """Set the token cookie on ``response`` (also used to renew a session) and return it."""
        response.set_cookie(
            self.cookie_name,
            token,
            max_age=self.cookie_max_age,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=self.cookie_secure,
            httponly=self.cookie_httponly,
            samesite=self.cookie_samesite,
        )
        return response

    async def get_login_response_with_refresh(
        self, token: str, refresh_token: str, *, expires_in: int | None, refresh_cookie: RefreshCookie
    ) -> Response:
        """Return ``204`` with the token cookie and the refresh-token cookie set."""
        response = self.set_login_cookie(Response(status_code=status.HTTP_204_NO_CONTENT), token)
        return self.set_refresh_cookie(response, refresh_token, refresh_cookie)

    def refresh_cookie_name(self, name: str) -> str:
        """The refresh-token cookie's name for the configured ``name``, with the prefix its attributes allow.

        ``__Host-`` when the token cookie has it (Path=/, no Domain: no subdomain can plant
        one), ``__Secure-`` when the cookie is ``Secure`` (RFC 6265bis 4.1.3), else ``name``.
        """
        if name.startswith((_HOST_PREFIX, _SECURE_PREFIX)) or not self.cookie_secure:
            return name
        host_only = self.cookie_name.startswith(_HOST_PREFIX)
        return (_HOST_PREFIX if host_only else _SECURE_PREFIX) + name

    def set_refresh_cookie(self, response: Response, refresh_token: str, refresh_cookie: RefreshCookie) -> Response:
        """Set the refresh-token cookie: always ``HttpOnly``, sent only to the refresh route's path.

        A ``__Host-`` cookie must have ``Path=/`` and no ``Domain``, so it gets those instead.
        """
        name = self.refresh_cookie_name(refresh_cookie.name)
        host_only = name.startswith(_HOST_PREFIX)
        response.set_cookie(
            name,
            refresh_token,
            max_age=refresh_cookie.max_age,
            path="/" if host_only else refresh_cookie.path,
            domain=None if host_only else self.cookie_domain,
            secure=self.cookie_secure,
            # Scripts never need the refresh token: HttpOnly whatever cookie_httponly says.
            httponly=True,
            samesite=self.cookie_samesite,
        )
        return response

    def clear_refresh_cookie(self, response: Response, refresh_cookie: RefreshCookie) -> Response:
        """Clear the refresh-token cookie (empty value, ``Max-Age=0``, same path)."""
        return self.set_refresh_cookie(response, "", RefreshCookie(refresh_cookie.name, refresh_cookie.path, 0))

    def get_refresh_token(self, connection: HTTPConnection, body_token: str | None, cookie_name: str) -> str | None:
        """The refresh token a browser sent: its refresh-token cookie.

        Raises:
            DuplicateRefreshCookie: The request carries that cookie more than once (a
                planted one beside the browser's own). The raw ``Cookie`` header is read:
                Starlette's parsed cookies keep only the last of several of one name.
        """
        name = self.refresh_cookie_name(cookie_name)
        found = [
            value.strip()
            for header in connection.headers.getlist("cookie")
            for key, separator, value in (pair.partition("=") for pair in header.split(";"))
            if separator and key.strip() == name
        ]
        if len(found) > 1:
            raise DuplicateRefreshCookie()
        return connection.cookies.get(name)

    def _set_logout_cookie(self, response: Response) -> Response:
        response.set_cookie(
            self.cookie_name,
            "",
            max_age=0,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=self.cookie_secure,
            httponly=self.cookie_httponly,
            samesite=self.cookie_samesite,
        )
        return response

    @staticmethod
    def get_openapi_login_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of the login response (204 and a cookie)."""
        return {status.HTTP_204_NO_CONTENT: {"model": None, "description": "Logged in; the cookie is set."}}

    @staticmethod
    def get_openapi_refresh_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of a login or refresh response with refresh on (204 and two cookies)."""
        return {
            status.HTTP_204_NO_CONTENT: {"model": None, "description": "The token and refresh-token cookies are set."}
        }

    @staticmethod
    def get_openapi_logout_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of the logout response (204, cookie cleared)."""
        return {status.HTTP_204_NO_CONTENT: {"model": None, "description": "Logged out; the cookie is cleared."}}
