"""A fake OAuth2 provider, in process: the remote authorization server, not our storage.

:class:`FakeProvider` answers ``/authorize``, ``/token`` and ``/userinfo`` through an
:class:`httpx.MockTransport`, with the rules a real server enforces: the client's credentials,
single-use codes bound to the redirect URI, and the PKCE check (RFC 7636 section 4.6).
:class:`FakeOAuth2` is an httpx-oauth client whose HTTP goes to it, so the whole
authorize -> consent -> callback -> login flow runs without a network::

    provider = FakeProvider()
    provider.add_account("alice", account_id="1001", email="alice@example.com")
    router = fastapi_users.get_oauth_router(provider.client(), backend, SECRET)
    ...
    authorize = await client.get("/auth/fake/authorize")
    callback_url = await provider.consent(authorize.json()["authorization_url"], "alice")
    response = await client.get(callback_url)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from httpx_oauth.exceptions import GetIdEmailError
from httpx_oauth.oauth2 import BaseOAuth2

PROVIDER_URL = "https://provider.test"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"


@dataclass
class FakeAccount:
    """A user of the provider."""

    account_id: str
    email: str | None


@dataclass
class _Grant:
    account: FakeAccount
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None


@dataclass
class FakeProvider:
    """The provider's state: accounts, outstanding codes, issued tokens, and failure switches."""

    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_status: int | None = None
    """Answer the token endpoint with this status (and an OAuth error body) instead."""
    token_body: dict[str, Any] | None = None
    """Answer the token endpoint with this JSON body (status 200) instead."""
    token_text: str | None = None
    """Answer the token endpoint with this non-JSON text (status 200) instead."""
    profile_status: int | None = None
    """Answer the profile endpoint with this status instead."""
    unreachable: bool = False
    """Fail every request with a connection error."""
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _tokens: dict[str, FakeAccount] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.transport = httpx.MockTransport(self._handle)

    def add_account(self, login: str, *, account_id: str, email: str | None) -> FakeAccount:
        """Register a provider user that can consent as ``login``."""
        account = FakeAccount(account_id, email)
        self.accounts[login] = account
        return account

    def client(self, name: str = "fake") -> FakeOAuth2:
        """An httpx-oauth client of this provider."""
        return FakeOAuth2(self, name=name)

    async def consent(self, authorization_url: str, login: str) -> str:
        """Play the browser at the provider: ``login`` consents; return the callback URL."""
        async with httpx.AsyncClient(transport=self.transport) as browser:
            response = await browser.get(f"{authorization_url}&{urlencode({'login': login})}")
        assert response.status_code == 302, response.text
        return str(response.headers["location"])

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.unreachable:
            raise httpx.ConnectError("provider unreachable", request=request)
        if request.url.path == "/authorize":
            return self._authorize(dict(request.url.params))
        if request.url.path == "/token":
            return self._token({key: values[0] for key, values in parse_qs(request.content.decode()).items()})
        if request.url.path == "/userinfo":
            return self._userinfo(request.headers.get("authorization", ""))
        return httpx.Response(404)

    def _authorize(self, params: dict[str, str]) -> httpx.Response:
        self.authorize_requests.append(params)
        account = self.accounts.get(params.get("login", ""))
        redirect_uri = params["redirect_uri"]
        if account is None or params.get("client_id") != CLIENT_ID:
            query = {"error": "access_denied", "state": params.get("state", "")}
        else:
            code = secrets.token_urlsafe(16)
            self._grants[code] = _Grant(
                account, redirect_uri, params.get("code_challenge"), params.get("code_challenge_method")
            )
            query = {"code": code, "state": params.get("state", "")}
        return httpx.Response(302, headers={"location": f"{redirect_uri}?{urlencode(query)}"})

    def _token(self, form: dict[str, str]) -> httpx.Response:
        self.token_requests.append(form)
        failure = self._token_failure()
        if failure is not None:
            return failure
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return httpx.Response(401, json={"error": "invalid_client"})
        grant = self._grants.pop(form.get("code", ""), None)  # a code is good for one exchange
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return httpx.Response(400, json={"error": "invalid_grant"})
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.code_challenge:
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "PKCE"})
        access_token = secrets.token_urlsafe(16)
        self._tokens[access_token] = grant.account
        body = {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": secrets.token_urlsafe(16),
        }
        return httpx.Response(200, json=body)

    def _token_failure(self) -> httpx.Response | None:
        if self.token_status is not None:
            return httpx.Response(self.token_status, json={"error": "server_error"})
        if self.token_text is not None:
            return httpx.Response(200, text=self.token_text)
        if self.token_body is not None:
            return httpx.Response(200, json=self.token_body)
        return None

    def _userinfo(self, authorization: str) -> httpx.Response:
        if self.profile_status is not None:
            return httpx.Response(self.profile_status, json={"error": "server_error"})
        account = self._tokens.get(authorization.removeprefix("Bearer "))
        if account is None:
            return httpx.Response(401, json={"error": "invalid_token"})
        return httpx.Response(200, json={"sub": account.account_id, "email": account.email})


class FakeOAuth2(BaseOAuth2[dict[str, Any]]):
    """An httpx-oauth client whose requests go to a :class:`FakeProvider`."""

    def __init__(self, provider: FakeProvider, *, name: str = "fake") -> None:
        super().__init__(
            CLIENT_ID,
            CLIENT_SECRET,
            f"{PROVIDER_URL}/authorize",
            f"{PROVIDER_URL}/token",
            name=name,
            base_scopes=["openid", "email"],
        )
        self.provider = provider

    def get_httpx_client(self) -> httpx.AsyncClient:
        """A client on the provider's mock transport."""
        return httpx.AsyncClient(transport=self.provider.transport)

    async def get_id_email(self, token: str) -> tuple[str, str | None]:
        """Read ``sub`` and ``email`` from the provider's userinfo endpoint.

        Raises:
            GetIdEmailError: The provider refused or failed.
        """
        async with self.get_httpx_client() as client:
            response = await client.get(f"{PROVIDER_URL}/userinfo", headers={"Authorization": f"Bearer {token}"})
        if response.status_code >= 400:
            raise GetIdEmailError(response=response)
        profile = response.json()
        return str(profile["sub"]), profile["email"]
