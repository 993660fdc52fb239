"""Tokens in an HTTP-only cookie."""

from __future__ import annotations

from typing import Literal

from fastapi import Response, status
from fastapi.security import APIKeyCookie

from fastapi_userkit.authentication.transport.base import Transport
from fastapi_userkit.openapi import OpenAPIResponseType

__all__ = ["CookieTransport"]


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
    ) -> None:
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
    def get_openapi_logout_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of the logout response (204, cookie cleared)."""
        return {status.HTTP_204_NO_CONTENT: {"model": None, "description": "Logged out; the cookie is cleared."}}
