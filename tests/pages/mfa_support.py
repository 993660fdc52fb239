"""The pages' test app with two-factor login on, and the steps a browser takes on its pages."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import httpx

from fastapi_userkit.security import SecuritySettings
from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock, code_at
from tests.mfa.http_support import sql_mfa
from tests.pages.support import PASSWORD, form_token, pages_app, submit

_SECRET = re.compile(r'id="uk-totp-secret">([^<]+)</code>')
_CODES = re.compile(r'id="uk-recovery-codes">([^<]*)</pre>')
_CHALLENGE = re.compile(r'name="challenge_token" value="([^"]+)"')
_SESSION_COOKIE = "fastapiusersauth"


def mfa_pages_app(
    session_maker: SessionMaker, clock: Clock, security: SecuritySettings | None = None, **options: Any
) -> TestApp:
    """The pages' test app with ``FastAPIUsers(mfa=...)`` on ``clock`` (the TOTP codes' time)."""
    app_options = {"mfa": sql_mfa(session_maker, clock), "security": security}
    return pages_app(session_maker, app_options=app_options, **options)


def secret_of(page: httpx.Response) -> str:
    """The TOTP key the enrolment page shows as text, without its spaces."""
    match = _SECRET.search(page.text)
    assert match is not None, page.text
    return "".join(html.unescape(match.group(1)).split())


def codes_of(page: httpx.Response) -> list[str]:
    """The recovery codes a codes page shows."""
    match = _CODES.search(page.text)
    assert match is not None, page.text
    return html.unescape(match.group(1)).split()


def challenge_of(page: httpx.Response) -> str:
    """The challenge token in the second-step form's hidden field."""
    match = _CHALLENGE.search(page.text)
    assert match is not None, page.text
    return html.unescape(match.group(1))


def signed_in(client: httpx.AsyncClient) -> bool:
    """Whether the client holds a session cookie."""
    return bool(client.cookies.get(_SESSION_COOKIE))


async def post_form(
    client: httpx.AsyncClient, page: httpx.Response, action: str, data: dict[str, str]
) -> httpx.Response:
    """Post ``data`` to ``action`` with the CSRF token of ``page``, as a same-origin form."""
    return await client.post(action, data={"csrf_token": form_token(page), **data}, headers={"origin": "http://test"})


@dataclass
class Enrolled:
    """What enrolment showed: the key and the recovery codes."""

    secret: str
    recovery_codes: list[str]


async def enrol_on_pages(client: httpx.AsyncClient, clock: Clock) -> Enrolled:
    """Set up TOTP through the two-factor pages at ``clock``'s time (the user is signed in)."""
    begun = await submit(client, "/account/two-factor", "/account/two-factor/totp", {})
    assert begun.status_code == 200, begun.text
    secret = secret_of(begun)
    confirmed = await post_form(client, begun, "/account/two-factor/totp/confirm", {"code": code_at(secret, clock.now)})
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(secret, codes_of(confirmed))


async def password_step(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Send the sign-in form; a user with a factor gets the second-step page."""
    return await submit(client, "/account/sign-in", "/account/sign-in", {"email": email, "password": password})


async def sign_out(client: httpx.AsyncClient) -> None:
    """Sign out through the pages."""
    answer = await submit(client, "/account/sign-out", "/account/sign-out", {})
    assert answer.status_code == 303, answer.text
    client.cookies.clear()


__all__ = [
    "Enrolled",
    "challenge_of",
    "codes_of",
    "enrol_on_pages",
    "mfa_pages_app",
    "password_step",
    "post_form",
    "secret_of",
    "sign_out",
    "signed_in",
]
