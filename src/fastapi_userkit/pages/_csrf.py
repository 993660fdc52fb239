"""CSRF protection of the pages' forms: the browser's own headers, and a signed token.

Two independent checks guard every ``POST`` (OWASP CSRF cheat sheet; ASVS 5.0 3.5.1-3.5.3):

1. ``Origin`` / ``Sec-Fetch-Site``: a form another site submits is refused with ``403``
   (:meth:`fastapi_userkit.security.CSRFProtection.check_origin`, the check the JSON API uses).
2. A signed double-submit token. A random nonce lives in an ``HttpOnly``, ``SameSite=Strict``
   cookie (``__Host-`` prefixed when ``Secure``); each form carries ``nonce.signature``, where
   the signature is an HMAC of the nonce *and* of the session cookie the page was rendered for.
   Another site cannot read the form, and a cookie planted by a sibling subdomain cannot be
   signed, nor reused by an attacker's own, differently-bound token.

The token is checked before the user is looked up, so a forged form never reaches the domain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from fastapi import Request, Response

from fastapi_userkit.exceptions import CSRFTokenInvalid
from fastapi_userkit.security.csrf import CSRFProtection

__all__ = ["CSRF_FIELD", "FormCSRF"]

CSRF_FIELD = "csrf_token"
"""The hidden field every form carries."""

_CONTEXT = b"fastapi-userkit pages csrf\x00"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class FormCSRF:
    """Issues and checks the form tokens of one pages router.

    Args:
        secret: The signing key (at least 32 bytes, checked by the router factory).
        origin_check: Checks ``Origin`` / ``Sec-Fetch-Site`` with the app's CSRF settings.
        secure: Whether the nonce cookie is ``Secure`` (then named with the ``__Host-`` prefix).
        session_cookie: The auth cookie's name; the tokens are bound to its value.
    """

    def __init__(self, secret: bytes, origin_check: CSRFProtection, *, secure: bool, session_cookie: str) -> None:
        self._secret = secret
        self.origin_check = origin_check
        self.secure = secure
        self.cookie_name = "__Host-userkit-form" if secure else "userkit-form"
        self.session_cookie = session_cookie

    def _sign(self, nonce: str, request: Request) -> str:
        # Bound to the session cookie (OWASP: "HMAC CSRF token" bound to the session): a token
        # taken while signed out, or from another session, does not fit this one.
        session = request.cookies.get(self.session_cookie, "")
        binding = hashlib.sha256(session.encode("utf-8", "surrogateescape")).digest()
        message = _CONTEXT + nonce.encode("ascii") + b"\x00" + binding
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def _cookie_nonce(self, request: Request) -> str | None:
        nonce = request.cookies.get(self.cookie_name)
        return nonce if nonce is not None and _NONCE.match(nonce) else None

    def issue(self, request: Request) -> tuple[str, str | None]:
        """Return the token for a form, and a new nonce to set as cookie (``None``: keep the browser's)."""
        nonce = self._cookie_nonce(request)
        new_nonce = None
        if nonce is None:
            nonce = new_nonce = secrets.token_urlsafe(32)
        return f"{nonce}.{self._sign(nonce, request)}", new_nonce

    def set_cookie(self, response: Response, nonce: str) -> None:
        """Set the nonce cookie on ``response``."""
        response.set_cookie(self.cookie_name, nonce, path="/", secure=self.secure, httponly=True, samesite="strict")

    def rotate(self, response: Response) -> None:
        """Drop the nonce at sign-in and sign-out: the next page draws a fresh one."""
        response.delete_cookie(self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="strict")

    def check(self, request: Request, token: object) -> None:
        """Refuse a cross-site form, or one whose token does not match this browser and session.

        Raises:
            CSRFCrossSiteRequest: The browser says another site sent the form.
            CSRFTokenInvalid: The token is missing or does not match (both ``403`` through the
                error table).
        """
        self.origin_check.check_origin(request)
        nonce = self._cookie_nonce(request)
        if nonce is None or not isinstance(token, str):
            raise CSRFTokenInvalid()
        sent_nonce, _, signature = token.partition(".")
        expected = self._sign(nonce, request)
        nonce_ok = hmac.compare_digest(sent_nonce.encode("utf-8", "surrogateescape"), nonce.encode("ascii"))
        signature_ok = hmac.compare_digest(signature.encode("utf-8", "surrogateescape"), expected.encode("ascii"))
        if not (nonce_ok and signature_ok):
            raise CSRFTokenInvalid()
