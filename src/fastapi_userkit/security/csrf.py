"""CSRF protection for cookie-authenticated requests (OWASP ASVS 5.0 3.5.1-3.5.3, NIST SP 800-63B 7.1).

A browser attaches cookies to requests that other sites make it send, so a cookie alone does
not prove the user meant the request. Bearer tokens travel in a header that another site cannot
set without a CORS preflight, so only requests authenticated by a cookie transport are checked.

Origin mode (the default) uses what the browser itself says, in headers a page cannot forge:
``Sec-Fetch-Site`` (Fetch Metadata) and ``Origin`` (RFC 6454). A state-changing request
(anything but ``GET``/``HEAD``/``OPTIONS``/``TRACE``, RFC 9110 9.2.1) is refused when it is
cross-site. A client that sends neither header is not a browser a site can drive (curl, a mobile
app), so it passes. Token mode adds a signed double-submit token (OWASP CSRF cheat sheet): the
cookie backend's login sets a JavaScript-readable cookie holding ``nonce.HMAC(secret, nonce)``,
and every checked request must echo it in a header. A page on another site can neither read the
cookie nor set the header; a sibling subdomain that plants a cookie cannot sign one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.security import APIKeyCookie
from pydantic import SecretStr
from starlette.requests import HTTPConnection

from fastapi_userkit.error_codes import ErrorCode
from fastapi_userkit.exceptions import ConfigurationError, CSRFCrossSiteRequest, CSRFTokenInvalid

if TYPE_CHECKING:
    from fastapi_userkit.authentication.transport.base import Transport

__all__ = [
    "CSRF_CROSS_SITE_REQUEST",
    "CSRF_TOKEN_INVALID",
    "SAFE_METHODS",
    "CSRFErrorFlow",
    "CSRFProtection",
    "CSRFSettings",
    "is_cookie_transport",
    "normalise_origin",
]

CSRF_CROSS_SITE_REQUEST = ErrorCode.CSRF_CROSS_SITE_REQUEST
"""403 detail: a cookie-authenticated state-changing request came from another site."""

CSRF_TOKEN_INVALID = ErrorCode.CSRF_TOKEN_INVALID
"""403 detail: token mode, and the CSRF header is missing or does not match the signed cookie."""

CSRFErrorFlow = Literal["csrf-origin", "csrf-token"]
"""The error-table flows (:data:`fastapi_userkit.router.common.ERRORS`) of the CSRF refusals."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods that must not change state (RFC 9110 9.2.1), so are never checked."""

_SIGNING_CONTEXT = b"fastapi-userkit csrf token\x00"
_MIN_TOKEN_SECRET_BYTES = 32


def normalise_origin(value: str) -> str | None:
    """Return ``value`` as ``scheme://host[:port]`` (default port dropped), or ``None`` if it is not an origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        return None
    default_port = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    suffix = "" if port in {None, default_port} else f":{port}"
    return f"{parts.scheme}://{host}{suffix}"


@dataclass(frozen=True)
class CSRFSettings:
    """CSRF protection of cookie-authenticated, state-changing requests (ASVS 5.0 3.5.1-3.5.3).

    ``mode="origin"`` (default) refuses, with ``403``, a ``POST``/``PUT``/``PATCH``/``DELETE``
    authenticated by a cookie transport when the browser says it is cross-site
    (``Sec-Fetch-Site: cross-site``, or an ``Origin`` that is neither the request's own origin
    nor in ``trusted_origins``). Same-origin browsers and clients that send neither header
    (curl, mobile apps, server-to-server) pass unchanged; bearer-authenticated requests are never
    checked. The cookie backend's login is checked the same way (login CSRF).

    ``mode="token"`` also requires the ``token_header`` to carry the signed token that the
    cookie backend's login sets in the ``token_cookie_name`` cookie (a signed double-submit
    cookie, as OWASP's CSRF cheat sheet describes).

    Raises:
        ConfigurationError: A malformed trusted origin, or token mode without a secret of at
            least 32 bytes.
    """

    mode: Literal["origin", "token"] = "origin"
    """``"origin"``: ``Origin``/``Sec-Fetch-Site`` checks; ``"token"``: those and a token header."""

    trusted_origins: tuple[str, ...] = ()
    """Other origins allowed to send cookie-authenticated requests (``"https://app.example.com"``),
    for a front-end served from another origin (with CORS configured to allow credentials)."""

    allow_same_site: bool = False
    """Accept ``Sec-Fetch-Site: same-site`` (a sibling subdomain) without a trusted ``Origin``."""

    token_secret: str | SecretStr | None = field(default=None, repr=False)
    """The key signing tokens in token mode (at least 32 bytes)."""

    token_header: str = "X-CSRF-Token"  # noqa: S105 - a header name, not a password
    """The header carrying the token in token mode."""

    token_cookie_name: str | None = None
    """The cookie the token is set in at login, readable by JavaScript. ``None``:
    ``"__Host-userkit-csrf"`` when the auth cookie is ``Secure``, ``"userkit-csrf"`` otherwise."""

    def __post_init__(self) -> None:
        normalised = tuple(_normalise_origin(origin) for origin in self.trusted_origins)
        object.__setattr__(self, "trusted_origins", normalised)
        if self.mode == "token":
            secret = self.secret_bytes()
            if len(secret) < _MIN_TOKEN_SECRET_BYTES:
                raise ConfigurationError("CSRFSettings(mode='token') needs a token_secret of at least 32 bytes.")
        elif self.mode != "origin":
            raise ConfigurationError("CSRFSettings.mode must be 'origin' or 'token'.")

    def secret_bytes(self) -> bytes:
        """The token secret as bytes (empty without one)."""
        secret = self.token_secret
        if isinstance(secret, SecretStr):
            secret = secret.get_secret_value()
        return (secret or "").encode()


def _normalise_origin(origin: str) -> str:
    normalised = normalise_origin(origin)
    if normalised is None:
        raise ConfigurationError(f"Not an origin (scheme://host[:port]): {origin!r}")
    return normalised


def is_cookie_transport(transport: Transport) -> bool:
    """Whether ``transport`` reads its token from a cookie (so its requests need CSRF checks)."""
    return isinstance(transport.scheme, APIKeyCookie)


def _request_origin(connection: HTTPConnection) -> str | None:
    return normalise_origin(f"{connection.url.scheme}://{connection.url.netloc}")


class CSRFProtection:
    """Checks requests and issues tokens according to :class:`~fastapi_userkit.security.CSRFSettings`.

    Args:
        settings: The CSRF settings.
    """

    def __init__(self, settings: CSRFSettings) -> None:
        self.settings = settings
        self._secret = settings.secret_bytes()

    @property
    def token_mode(self) -> bool:
        """Whether requests must also carry a token."""
        return self.settings.mode == "token"

    def request_error_flows(self) -> tuple[CSRFErrorFlow, ...]:
        """The error-table flows :meth:`check_request` may raise into (for a route's OpenAPI)."""
        return ("csrf-origin", "csrf-token") if self.token_mode else ("csrf-origin",)

    def check_request(self, request: Request, transport: Transport) -> None:
        """Refuse a cross-site (or, in token mode, token-less) state-changing request.

        Call it for requests authenticated by ``transport``, a cookie transport.

        Raises:
            CSRFCrossSiteRequest: The browser says another site sent it (``403
                CSRF_CROSS_SITE_REQUEST`` through the error table).
            CSRFTokenInvalid: Token mode, and the token is missing or wrong (``403
                CSRF_TOKEN_INVALID``).
        """
        if request.method.upper() in SAFE_METHODS:
            return
        self.check_origin(request)
        if self.token_mode and not self._token_matches(request, transport):
            raise CSRFTokenInvalid()

    def check_origin(self, request: Request) -> None:
        """Refuse a request the browser marks as cross-site (also used for login CSRF).

        Raises:
            CSRFCrossSiteRequest: ``403 CSRF_CROSS_SITE_REQUEST`` through the error table
                (flow ``csrf-origin``).
        """
        if self._cross_site(request):
            raise CSRFCrossSiteRequest()

    def _cross_site(self, request: Request) -> bool:
        site = request.headers.get("sec-fetch-site")
        if site is not None:
            site = site.strip().lower()
        # Sec-Fetch-* are forbidden header names: a page cannot set them, the browser does.
        if site in {"same-origin", "none"}:
            return False
        same_site_allowed = self.settings.allow_same_site and site == "same-site"
        origin_header = request.headers.get("origin")
        if origin_header is not None:
            origin = normalise_origin(origin_header)  # "null" (opaque origins) gives None
            if origin is not None and (origin == _request_origin(request) or origin in self.settings.trusted_origins):
                return False
            return not same_site_allowed
        if site is None:
            # Neither header: not a browser that a web page can drive.
            return False
        return not same_site_allowed

    def new_token(self) -> str:
        """A fresh signed token: ``nonce.signature``."""
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{self._sign(nonce)}"

    def cookie_name(self, transport: Transport) -> str:
        """The token cookie's name for ``transport`` (``__Host-`` prefixed when its cookie is ``Secure``)."""
        if self.settings.token_cookie_name is not None:
            return self.settings.token_cookie_name
        return "__Host-userkit-csrf" if getattr(transport, "cookie_secure", True) else "userkit-csrf"

    def set_token_cookie(self, response: Response, transport: Transport) -> None:
        """In token mode, set a fresh token cookie on a cookie backend's login ``response``.

        The cookie is readable by the page's JavaScript (not ``HttpOnly``) so it can copy it
        into the header; ``SameSite=Strict`` and, when ``Secure``, the ``__Host-`` prefix keep
        it to this exact site (ASVS 5.0 3.3.1, 3.3.3).
        """
        if not self.token_mode:
            return
        secure = bool(getattr(transport, "cookie_secure", True))
        response.set_cookie(
            self.cookie_name(transport),
            self.new_token(),
            max_age=getattr(transport, "cookie_max_age", None),
            path="/",
            secure=secure,
            httponly=False,
            samesite="strict",
        )

    def clear_token_cookie(self, response: Response, transport: Transport) -> None:
        """In token mode, clear the token cookie on a logout ``response``."""
        if not self.token_mode:
            return
        secure = bool(getattr(transport, "cookie_secure", True))
        response.set_cookie(
            self.cookie_name(transport), "", max_age=0, path="/", secure=secure, httponly=False, samesite="strict"
        )

    def _sign(self, nonce: str) -> str:
        mac = hmac.new(self._secret, _SIGNING_CONTEXT + nonce.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def _token_matches(self, request: Request, transport: Transport) -> bool:
        header = request.headers.get(self.settings.token_header)
        cookie = request.cookies.get(self.cookie_name(transport))
        if not header or not cookie:
            return False
        header_bytes = header.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(header_bytes, cookie.encode("utf-8", "surrogateescape")):
            return False
        nonce, separator, signature = cookie.rpartition(".")
        if not separator or not nonce:
            return False
        return hmac.compare_digest(signature.encode("utf-8", "surrogateescape"), self._sign(nonce).encode())
