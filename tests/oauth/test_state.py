"""The callback's checks: state, CSRF cookie, PKCE, single use, and the provider's failures.

Every bad state is refused before the provider hears of the code (``token_requests`` stays empty).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi import HTTPException
from httpx_oauth.oauth2 import OAuth2Token
from hypothesis import given, settings
from hypothesis import strategies as st

from fastapi_userkit.router._oauth_flow import pkce_challenge, read_state
from fastapi_userkit.router.common import translate
from fastapi_userkit.router.oauth import CSRF_TOKEN_COOKIE_NAME, STATE_TOKEN_AUDIENCE, generate_state_token
from tests.conftest import SessionMaker
from tests.oauth.flows import STATE_SECRET, authorize, https_client, make_oauth_app
from tests.oauth_provider import FakeOAuth2, FakeProvider
from tests.router.helpers import parse_set_cookie

CALLBACK = "/auth/fake/callback"


async def _csrf_token(client: httpx.AsyncClient) -> str:
    """Start a flow so the client holds a CSRF cookie; return its value."""
    await authorize(client)
    token = client.cookies.get(CSRF_TOKEN_COOKIE_NAME)
    assert token is not None
    return token


def _state(claims: dict[str, Any], secret: str = STATE_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def _hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


@pytest.mark.parametrize(
    ("make_state", "detail"),
    [
        (lambda _csrf: None, "ACCESS_TOKEN_DECODE_ERROR"),
        (lambda _csrf: "not-a-jwt", "ACCESS_TOKEN_DECODE_ERROR"),
        (lambda _csrf: "a.b.c", "ACCESS_TOKEN_DECODE_ERROR"),
        (
            lambda csrf: _state(
                {"csrftoken": csrf, "aud": STATE_TOKEN_AUDIENCE, "exp": _hour()}, "another-secret-0123456789abcdef-xyz"
            ),
            "ACCESS_TOKEN_DECODE_ERROR",
        ),
        (
            lambda csrf: _state({"csrftoken": csrf, "aud": "fastapi-users:auth", "exp": _hour()}),
            "ACCESS_TOKEN_DECODE_ERROR",
        ),
        (lambda csrf: _state({"csrftoken": csrf, "exp": _hour()}), "ACCESS_TOKEN_DECODE_ERROR"),
        (
            lambda csrf: _state(
                {"csrftoken": csrf, "aud": STATE_TOKEN_AUDIENCE, "exp": datetime.now(UTC) - timedelta(seconds=5)}
            ),
            "ACCESS_TOKEN_ALREADY_EXPIRED",
        ),
        (lambda _csrf: _state({"aud": STATE_TOKEN_AUDIENCE, "exp": _hour()}), "OAUTH_INVALID_STATE"),
        (lambda _csrf: _state({"csrftoken": 42, "aud": STATE_TOKEN_AUDIENCE, "exp": _hour()}), "OAUTH_INVALID_STATE"),
        (
            lambda _csrf: _state({"csrftoken": "another-token", "aud": STATE_TOKEN_AUDIENCE, "exp": _hour()}),
            "OAUTH_INVALID_STATE",
        ),
    ],
    ids=[
        "missing",
        "not-a-jwt",
        "garbage-segments",
        "bad-signature",
        "wrong-audience",
        "no-audience",
        "expired",
        "no-csrf-claim",
        "csrf-claim-not-a-string",
        "csrf-mismatch",
    ],
)
async def test_bad_state_is_400_before_the_code_exchange(
    client: httpx.AsyncClient, provider: FakeProvider, make_state: Any, detail: str
) -> None:
    """Each kind of bad state answers 400 with its code, and the provider is never asked."""
    state = make_state(await _csrf_token(client))
    params = {"code": "some-code", **({"state": state} if state is not None else {})}

    response = await client.get(CALLBACK, params=params)

    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert provider.token_requests == []


async def test_missing_csrf_cookie_is_refused(client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """A genuine state without its CSRF cookie (another browser) is 400 OAUTH_INVALID_STATE."""
    callback_url = await provider.consent(await authorize(client), "alice")
    client.cookies.clear()

    response = await client.get(callback_url)

    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_INVALID_STATE"}
    assert provider.token_requests == []


async def test_csrf_cookie_of_another_flow_is_refused(client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """A cookie that does not match the state's token (login CSRF) is 400 OAUTH_INVALID_STATE."""
    callback_url = await provider.consent(await authorize(client), "alice")
    client.cookies.set(CSRF_TOKEN_COOKIE_NAME, "attacker-chosen-value")

    response = await client.get(callback_url)

    assert response.json() == {"detail": "OAUTH_INVALID_STATE"}
    assert provider.token_requests == []


async def test_non_ascii_csrf_cookie_is_400_not_500(client: httpx.AsyncClient) -> None:
    """A CSRF cookie with non-ASCII characters is compared safely and refused."""
    state = generate_state_token({"csrftoken": "token"}, STATE_SECRET)

    response = await client.get(
        CALLBACK,
        params={"code": "c", "state": state},
        headers=[(b"cookie", f"{CSRF_TOKEN_COOKIE_NAME}=t\u00e9".encode("latin-1"))],
    )

    assert response.json() == {"detail": "OAUTH_INVALID_STATE"}


async def test_error_answers_clear_the_csrf_cookie(client: httpx.AsyncClient) -> None:
    """A refused callback deletes the CSRF cookie too, so its state cannot be retried."""
    await _csrf_token(client)

    response = await client.get(CALLBACK, params={"code": "c", "state": "bad"})

    name, value, attributes = parse_set_cookie(response.headers["set-cookie"])
    assert (name, value, attributes["max-age"]) == (CSRF_TOKEN_COOKIE_NAME, "", "0")
    assert CSRF_TOKEN_COOKIE_NAME not in client.cookies


async def test_provider_error_parameter_is_400(client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """``?error=access_denied`` (the user declined) is 400 with that detail, as in FastAPI Users."""
    callback_url = await provider.consent(await authorize(client), "nobody")

    response = await client.get(callback_url)

    assert "error=access_denied" in callback_url
    assert response.status_code == 400
    assert response.json() == {"detail": "access_denied"}


async def test_missing_code_is_400_bad_request(client: httpx.AsyncClient) -> None:
    """A callback without ``code`` is 400 ``Bad Request``."""
    response = await client.get(CALLBACK, params={"state": "whatever"})

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad Request"}


async def test_replayed_callback_is_refused_before_the_provider(
    client: httpx.AsyncClient, provider: FakeProvider
) -> None:
    """Replaying a callback URL from the same browser fails: its CSRF cookie was deleted."""
    callback_url = await provider.consent(await authorize(client), "alice")
    first = await client.get(callback_url)

    replay = await client.get(callback_url)

    assert first.status_code == 200
    assert replay.status_code == 400
    assert replay.json() == {"detail": "OAUTH_INVALID_STATE"}
    assert len(provider.token_requests) == 1


async def test_replay_with_a_copied_cookie_is_refused(client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """Replaying with a copy of the cookie reaches the provider, which refuses the redeemed code."""
    callback_url = await provider.consent(await authorize(client), "alice")
    cookie = client.cookies[CSRF_TOKEN_COOKIE_NAME]
    first = await client.get(callback_url)

    replay = await client.get(callback_url, headers={"cookie": f"{CSRF_TOKEN_COOKIE_NAME}={cookie}"})

    assert first.status_code == 200
    assert replay.status_code == 400
    assert replay.json() == {"detail": "OAUTH_INVALID_CODE"}


async def test_code_exchange_sends_the_pkce_verifier(client: httpx.AsyncClient, provider: FakeProvider) -> None:
    """The token request carries the verifier whose S256 challenge /authorize sent."""
    url = await authorize(client)
    challenge = parse_qs(urlsplit(url).query)["code_challenge"][0]

    response = await client.get(await provider.consent(url, "alice"))

    assert response.status_code == 200
    verifier = provider.token_requests[0]["code_verifier"]
    assert 43 <= len(verifier) <= 128
    assert pkce_challenge(verifier) == challenge


async def test_stolen_code_is_useless_in_another_browser(
    client: httpx.AsyncClient, provider: FakeProvider, test_app: Any
) -> None:
    """A code issued to the victim's flow, injected into the attacker's own flow, fails PKCE."""
    victim_callback = await provider.consent(await authorize(client), "alice")
    stolen_code = parse_qs(urlsplit(victim_callback).query)["code"][0]
    transport = httpx.ASGITransport(app=test_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as attacker:
        attacker_callback = await provider.consent(await authorize(attacker), "bob")
        attacker_state = parse_qs(urlsplit(attacker_callback).query)["state"][0]

        response = await attacker.get(CALLBACK, params={"code": stolen_code, "state": attacker_state})

    assert response.status_code == 400
    assert response.json() == {"detail": "OAUTH_INVALID_CODE"}


@pytest.mark.parametrize(
    ("failure", "status_code", "detail"),
    [
        ({"token_status": 503}, 502, "OAUTH_PROVIDER_ERROR"),
        ({"token_status": 401}, 502, "OAUTH_PROVIDER_ERROR"),
        ({"unreachable": True}, 502, "OAUTH_PROVIDER_ERROR"),
        ({"token_body": {"error": "bad_verification_code"}}, 400, "OAUTH_INVALID_CODE"),
        ({"token_body": {"unexpected": "shape"}}, 502, "OAUTH_PROVIDER_ERROR"),
        ({"token_text": "<html>oops</html>"}, 502, "OAUTH_PROVIDER_ERROR"),
        ({"profile_status": 500}, 502, "OAUTH_PROVIDER_ERROR"),
    ],
    ids=[
        "token-5xx",
        "token-invalid-client",
        "unreachable",
        "github-style-error",
        "no-access-token",
        "token-not-json",
        "profile-5xx",
    ],
)
async def test_provider_failures_are_clear_errors(
    client: httpx.AsyncClient, provider: FakeProvider, failure: dict[str, Any], status_code: int, detail: str
) -> None:
    """A provider that fails answers 502 OAUTH_PROVIDER_ERROR; one that refuses the code, 400; never 500."""
    callback_url = await provider.consent(await authorize(client), "alice")
    for name, value in failure.items():
        setattr(provider, name, value)

    response = await client.get(callback_url)

    assert response.status_code == status_code
    assert response.json() == {"detail": detail}


@settings(max_examples=200, deadline=None)
@given(state=st.text(), cookie=st.none() | st.text())
def test_read_state_never_fails_otherwise_than_with_400(state: str, cookie: str | None) -> None:
    """Whatever the state and cookie strings, read_state refuses them with a 400."""
    with pytest.raises(HTTPException) as raised, translate("oauth-callback"):
        read_state(state, STATE_SECRET, cookie)

    assert raised.value.status_code == 400
    assert raised.value.detail in {"ACCESS_TOKEN_DECODE_ERROR", "OAUTH_INVALID_STATE"}


class _UnwrappedErrorsClient(FakeOAuth2):
    """A client that lets httpx's errors escape, as some hand-written clients do."""

    async def get_access_token(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> OAuth2Token:
        """Time out without wrapping the error."""
        raise httpx.ReadTimeout("provider too slow")


async def test_unwrapped_client_errors_are_502(http_db: SessionMaker, provider: FakeProvider) -> None:
    """An httpx error escaping a client's code exchange is 502 OAUTH_PROVIDER_ERROR, not 500."""
    test_app = make_oauth_app(http_db, provider)
    router = test_app.fastapi_users.get_oauth_router(
        _UnwrappedErrorsClient(provider, name="slow"), test_app.backends["jwt"], STATE_SECRET
    )
    test_app.app.include_router(router, prefix="/auth/slow")
    async with https_client(test_app.app) as client:
        callback_url = await provider.consent(await authorize(client, "/auth/slow"), "alice")

        response = await client.get(callback_url)

    assert response.status_code == 502
    assert response.json() == {"detail": "OAUTH_PROVIDER_ERROR"}
