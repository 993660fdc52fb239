"""The pages' test app with passkeys on, and the steps the pages' script takes in a browser.

The script (``userkit-passkeys.js``) posts the passkey form's fields to the options endpoint,
hands the options to WebAuthn, and sends the form with the credential's JSON. Here the software
authenticator of ``tests/passkeys`` plays WebAuthn, so the HTTP tests send what a browser sends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from fastapi_userkit.passkeys import PasskeyService, PasskeySettings
from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock
from tests.pages.mfa_support import mfa_pages_app, post_form
from tests.pages.support import form_token, pages_app
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN, RP_ID, challenge_store, credential_store

ORIGIN_HEADER = {"origin": "http://test"}


def passkey_service_dependency(session_maker: SessionMaker, **settings: Any) -> Any:
    """A dependency giving a passkey service over the test tables (RP ``camelot.test``)."""
    relying_party = PasskeySettings(rp_id=RP_ID, rp_name="Camelot", origins=(ORIGIN,), **settings)

    async def get_passkey_service() -> AsyncIterator[PasskeyService]:
        credentials, challenges = credential_store(session_maker), challenge_store(session_maker)
        yield PasskeyService(relying_party, credentials, challenges)
        await credentials.session.close()
        await challenges.session.close()

    return get_passkey_service


def passkey_pages_app(
    session_maker: SessionMaker, *, clock: Clock | None = None, settings: dict[str, Any] | None = None, **options: Any
) -> TestApp:
    """The pages' test app with passkeys (and two-factor login on ``clock``, when given)."""
    service = passkey_service_dependency(session_maker, **(settings or {}))
    if clock is not None:
        return mfa_pages_app(session_maker, clock, get_passkey_service=service, **options)
    return pages_app(session_maker, get_passkey_service=service, **options)


async def options_of(client: httpx.AsyncClient, page: httpx.Response, url: str, **fields: str) -> httpx.Response:
    """What the script does first: post the form's fields (its CSRF token) to the options endpoint."""
    return await client.post(url, data={"csrf_token": form_token(page), **fields}, headers=ORIGIN_HEADER)


async def ceremony(
    client: httpx.AsyncClient,
    page_path: str,
    options_url: str,
    action: str,
    run: Any,
    **fields: str,
) -> httpx.Response:
    """Open ``page_path``, get the options, let ``run(options)`` make the credential, send the form."""
    page = await client.get(page_path)
    options = await options_of(client, page, options_url, **fields)
    assert options.status_code == 200, options.text
    credential = run(options.json())
    return await post_form(client, page, action, {"credential": json.dumps(credential), **fields})


async def add_passkey(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, name: str = "", **create: Any
) -> httpx.Response:
    """Add a passkey from the account page (signed in)."""
    return await ceremony(
        client,
        "/account/",
        "/account/passkeys/add/options",
        "/account/passkeys/add",
        lambda options: authenticator.create(options, **create),
        name=name,
    )


async def sign_in_with_passkey(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, **get: Any
) -> httpx.Response:
    """Sign in from the sign-in page with a passkey, no e-mail typed."""
    return await ceremony(
        client,
        "/account/sign-in",
        "/account/passkeys/sign-in/options",
        "/account/passkeys/sign-in",
        lambda options: authenticator.get(options, **get),
    )


__all__ = [
    "ORIGIN",
    "ORIGIN_HEADER",
    "add_passkey",
    "ceremony",
    "options_of",
    "passkey_pages_app",
    "passkey_service_dependency",
    "sign_in_with_passkey",
]
