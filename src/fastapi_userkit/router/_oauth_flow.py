"""The authorization-code flow both OAuth routers share: state, CSRF cookie, PKCE, code exchange.

How a flow is bound to the browser that started it, without any server-side memory (the app
may run many workers):

* ``GET /authorize`` draws a random CSRF token, sets it in an HttpOnly cookie and signs it into
  the ``state`` JWT (double-submit cookie, ASVS 5.0 10.1.2 / 10.2.1).
* The PKCE verifier (RFC 7636) is never stored: it is an HMAC of that CSRF token under the
  state secret, so the callback recomputes it from the cookie. Only the browser holding the
  cookie can complete the exchange, and a stolen authorization code is useless elsewhere.
* The callback validates ``state`` and the cookie *before* it calls the provider, and every
  callback answer deletes the cookie: a state can be tried once per browser. A replay that
  carries a copy of the cookie reaches the provider, which refuses the redeemed code
  (RFC 6749 section 4.1.2: codes are single-use).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import jwt
from fastapi import HTTPException, Request, Response
from httpx_oauth.exceptions import HTTPXOAuthError
from httpx_oauth.oauth2 import BaseOAuth2, GetAccessTokenError, OAuth2Token
from pydantic import BaseModel

from fastapi_userkit.exceptions import (
    ConfigurationError,
    OAuthCodeRejected,
    OAuthProviderError,
    OAuthProviderRefused,
    OAuthStateExpired,
    OAuthStateInvalid,
    OAuthStateMalformed,
    OAuthStateWrongUser,
)
from fastapi_userkit.jwt import SecretType, decode_jwt, generate_jwt, get_secret_value

__all__ = [
    "CSRF_TOKEN_COOKIE_NAME",
    "CSRF_TOKEN_KEY",
    "STATE_TOKEN_AUDIENCE",
    "CSRFCookie",
    "OAuth2AuthorizeResponse",
    "OAuthFlow",
    "build_flow",
    "generate_csrf_token",
    "generate_state_token",
    "pkce_challenge",
]

# Names, not secrets (S105): an audience, a claim and a cookie name, all FastAPI Users'.
STATE_TOKEN_AUDIENCE = "fastapi-users:oauth-state"  # noqa: S105
CSRF_TOKEN_KEY = "csrftoken"  # noqa: S105
CSRF_TOKEN_COOKIE_NAME = "fastapiusersoauthcsrf"  # noqa: S105
STATE_LIFETIME_SECONDS = 3600

# RFC 6749 section 5.2: the grant itself is bad (expired, redeemed, wrong PKCE verifier).
# GitHub answers 200 with ``bad_verification_code`` instead.
_REJECTED_CODE_ERRORS = frozenset({"invalid_grant", "bad_verification_code"})


def generate_state_token(data: dict[str, str], secret: SecretType, lifetime_seconds: int = 3600) -> str:
    """Sign ``data`` as an OAuth ``state`` JWT (audience ``fastapi-users:oauth-state``).

    Unlike FastAPI Users, ``data`` is not modified.
    """
    return generate_jwt({**data, "aud": STATE_TOKEN_AUDIENCE}, secret, lifetime_seconds)


def generate_csrf_token() -> str:
    """Return a random CSRF token (256 bits) for the double-submit cookie."""
    return secrets.token_urlsafe(32)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _pkce_verifier(secret: SecretType, csrf_token: str) -> str:
    # 43 characters of the RFC 7636 section 4.1 alphabet, as unguessable as the CSRF token
    # for anyone without the secret; the label keeps this HMAC apart from the JWT signatures.
    message = b"fastapi-userkit:oauth-pkce:" + csrf_token.encode()
    return _b64url(hmac.new(get_secret_value(secret).encode(), message, hashlib.sha256).digest())


def pkce_challenge(verifier: str) -> str:
    """Return the S256 code challenge of ``verifier`` (RFC 7636 section 4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class CSRFCookie:
    """Where the CSRF token of a flow lives in the browser."""

    name: str
    path: str
    domain: str | None
    secure: bool
    httponly: bool
    samesite: Literal["lax", "strict", "none"]

    def set(self, response: Response, token: str) -> None:
        """Set the cookie on ``response`` for the lifetime of the state."""
        response.set_cookie(
            self.name,
            token,
            max_age=STATE_LIFETIME_SECONDS,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=self.httponly,
            samesite=self.samesite,
        )

    def delete(self, response: Response) -> None:
        """Delete the cookie through ``response``."""
        response.delete_cookie(
            self.name,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=self.httponly,
            samesite=self.samesite,
        )

    def deletion_header(self) -> str:
        """The ``Set-Cookie`` header value that deletes the cookie."""
        response = Response()
        self.delete(response)
        return response.headers["set-cookie"]


def read_state(state: str | None, secret: SecretType, csrf_cookie: str | None) -> dict[str, Any]:
    """Validate the ``state`` JWT and its CSRF cookie; return the state's claims.

    Raises:
        OAuthStateMalformed: Missing, malformed, badly signed, or another audience (400
            ``ACCESS_TOKEN_DECODE_ERROR`` through the error table).
        OAuthStateExpired: Past its lifetime (400 ``ACCESS_TOKEN_ALREADY_EXPIRED``).
        OAuthStateInvalid: No CSRF claim, no cookie, or a cookie that does not match (400
            ``OAUTH_INVALID_STATE``).
    """
    if state is None:
        raise OAuthStateMalformed()
    try:
        data = decode_jwt(state, secret, [STATE_TOKEN_AUDIENCE])
    except jwt.ExpiredSignatureError as exc:
        raise OAuthStateExpired() from exc
    except jwt.PyJWTError as exc:
        # Wrong audience included: FastAPI Users let InvalidAudienceError escape as a 500.
        raise OAuthStateMalformed() from exc
    expected = data.get(CSRF_TOKEN_KEY)
    if not isinstance(expected, str) or csrf_cookie is None:
        raise OAuthStateInvalid()
    # Compared as bytes: compare_digest refuses non-ASCII str, and a cookie may hold anything.
    if not hmac.compare_digest(expected.encode(), csrf_cookie.encode()):
        raise OAuthStateInvalid()
    return data


class OAuthFlow:
    """One provider's authorization-code flow, as a router runs it.

    Args:
        client: The httpx-oauth client.
        state_secret: Signs the state and keys the PKCE verifier.
        redirect_url: The callback URL registered at the provider, or ``None`` to build it
            from ``callback_route_name`` and the request.
        callback_route_name: The name of the callback route.
        cookie: The CSRF cookie's settings.
    """

    def __init__(
        self,
        client: BaseOAuth2[Any],
        state_secret: SecretType,
        redirect_url: str | None,
        callback_route_name: str,
        cookie: CSRFCookie,
    ) -> None:
        self.client = client
        self.state_secret = state_secret
        self.redirect_url = redirect_url
        self.callback_route_name = callback_route_name
        self.cookie = cookie

    def _redirect_uri(self, request: Request) -> str:
        if self.redirect_url is not None:
            return self.redirect_url
        return str(request.url_for(self.callback_route_name))

    async def authorization_url(
        self, request: Request, response: Response, scopes: list[str] | None, state_data: dict[str, str]
    ) -> str:
        """Start a flow: set the CSRF cookie on ``response``; return the provider's URL."""
        csrf_token = generate_csrf_token()
        state = generate_state_token({**state_data, CSRF_TOKEN_KEY: csrf_token}, self.state_secret)
        self.cookie.set(response, csrf_token)
        return await self.client.get_authorization_url(
            self._redirect_uri(request),
            state,
            scopes,
            code_challenge=pkce_challenge(_pkce_verifier(self.state_secret, csrf_token)),
            code_challenge_method="S256",
        )

    @contextmanager
    def consuming_cookie(self) -> Iterator[None]:
        """Make every error answer of a callback delete the CSRF cookie too.

        Wrap the callback's ``translate(...)`` block: it sees the table's answers. Success
        answers delete the cookie through :meth:`CSRFCookie.delete`.
        """
        try:
            yield
        except HTTPException as exc:
            headers = {**(exc.headers or {}), "set-cookie": self.cookie.deletion_header()}
            raise HTTPException(exc.status_code, exc.detail, headers) from exc

    async def callback(
        self,
        request: Request,
        code: str | None,
        state: str | None,
        error: str | None,
        *,
        subject: str | None = None,
    ) -> tuple[OAuth2Token, dict[str, Any]]:
        """Check the callback's parameters, then exchange the code; return the token and state claims.

        Args:
            request: The callback request.
            code: The authorization code.
            state: The ``state`` the provider sent back.
            error: The provider's ``error`` parameter.
            subject: The current user's id, when the flow must have been started by them
                (the associate flow); another ``sub`` is 400 ``Bad Request``.

        Raises:
            OAuthProviderRefused: The provider sent an ``error`` (400 with it as detail), or no
                code came (400 ``Bad Request``).
            OAuthStateInvalid: A bad state (see :func:`read_state`); another user's flow
                (:class:`~fastapi_userkit.exceptions.OAuthStateWrongUser`, 400 ``Bad Request``).
            OAuthCodeRejected: The provider refuses the code (400 ``OAUTH_INVALID_CODE``).
            OAuthProviderError: The provider fails (502 ``OAUTH_PROVIDER_ERROR``).
        """
        if code is None or error is not None:
            raise OAuthProviderRefused(error)
        # The state is checked before the provider hears of the code (FastAPI Users exchanged
        # it first, so forged callbacks cost a provider round trip and burned the code).
        data = read_state(state, self.state_secret, request.cookies.get(self.cookie.name))
        if subject is not None and data.get("sub") != subject:
            raise OAuthStateWrongUser()
        verifier = _pkce_verifier(self.state_secret, data[CSRF_TOKEN_KEY])
        token = await self._exchange(code, self._redirect_uri(request), verifier)
        return token, data

    async def _exchange(self, code: str, redirect_uri: str, verifier: str) -> OAuth2Token:
        try:
            token = await self.client.get_access_token(code, redirect_uri, verifier)
        except GetAccessTokenError as exc:
            if exc.response is not None and _provider_error(exc.response) in _REJECTED_CODE_ERRORS:
                raise OAuthCodeRejected() from exc
            raise OAuthProviderError() from exc
        except (HTTPXOAuthError, httpx.HTTPError) as exc:
            raise OAuthProviderError() from exc
        if not isinstance(token.get("access_token"), str):
            if token.get("error") in _REJECTED_CODE_ERRORS:
                raise OAuthCodeRejected()
            raise OAuthProviderError()
        return token

    async def get_id_email(self, token: OAuth2Token) -> tuple[str, str | None]:
        """Ask the provider who the token's owner is.

        Raises:
            OAuthProviderError: The provider fails or answers something unexpected (502
                ``OAUTH_PROVIDER_ERROR`` through the error table).
        """
        try:
            account_id, account_email = await self.client.get_id_email(token["access_token"])
        # Clients parse the profile without wrapping their errors: GitHub's lets network errors,
        # bad JSON and an empty e-mail list (IndexError) through, Google's a missing primary
        # address (StopIteration, which a coroutine turns into RuntimeError). A provider's odd
        # answer is its failure, not a 500.
        except (HTTPXOAuthError, httpx.HTTPError, ValueError, LookupError, TypeError, RuntimeError) as exc:
            raise OAuthProviderError() from exc
        return str(account_id), account_email


def _provider_error(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


class OAuth2AuthorizeResponse(BaseModel):
    """The answer of ``GET /authorize``: where to send the browser."""

    authorization_url: str


def build_flow(
    oauth_client: BaseOAuth2[Any],
    state_secret: SecretType,
    redirect_url: str | None,
    callback_route_name: str,
    cookie: CSRFCookie,
) -> OAuthFlow:
    """The flow of one router, refusing an empty ``state_secret`` at wiring time."""
    if not get_secret_value(state_secret):
        raise ConfigurationError("The OAuth routers need a non-empty state_secret.")
    return OAuthFlow(oauth_client, state_secret, redirect_url, callback_route_name, cookie)
