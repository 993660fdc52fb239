"""The passkey pages' docs example (``passkey-pages-app``) runs as written, with a software authenticator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.pages.support import form_token
from tests.passkeys.authenticator import SoftAuthenticator
from tests.readme_examples import run_examples

EMAIL = "percival@camelot.bt"
SITE = "http://localhost:8000"
_PASSKEY_ID = re.compile(r'name="passkey_id" value="([^"]+)"')


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def press(client: httpx.AsyncClient, page: httpx.Response, action: str, data: dict[str, str]) -> httpx.Response:
    """Send ``data`` to ``action`` with ``page``'s form token, as the browser sends a same-origin form."""
    return await client.post(action, data={"csrf_token": form_token(page), **data}, headers={"origin": SITE})


async def ceremony(client: httpx.AsyncClient, page_path: str, endpoint: str, run: Any, **fields: str) -> httpx.Response:
    """What the pages' script does: options from ``{endpoint}/options``, the credential to ``endpoint``."""
    page = await client.get(page_path)
    options = await press(client, page, f"{endpoint}/options", fields)
    assert options.status_code == 200, options.text
    return await press(client, page, endpoint, {"credential": json.dumps(run(options.json())), **fields})


async def test_passkey_pages_example(in_tmp_dir: Path) -> None:
    """The documented pages create an account with a passkey, sign in with it, and add and rename a second one."""
    namespace = run_examples("passkey-pages-app")
    app: FastAPI = namespace["app"]
    phone, key = SoftAuthenticator(SITE), SoftAuthenticator(SITE)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
            created = await ceremony(client, "/account/sign-up", "/account/passkeys/sign-up", phone.create, email=EMAIL)
            page = await client.get("/account/sign-out")
            await press(client, page, "/account/sign-out", {})
            signed_in = await ceremony(client, "/account/sign-in", "/account/passkeys/sign-in", phone.get)
            added = await ceremony(client, "/account/", "/account/passkeys/add", key.create, name="Security key")
            account = await client.get("/account/")
            renamed = await press(
                client,
                account,
                "/account/passkeys/rename",
                {"passkey_id": _PASSKEY_ID.findall(account.text)[0], "name": "Phone"},
            )
            after = await client.get("/account/")
    await namespace["engine"].dispose()

    assert created.status_code == 303, created.text
    assert signed_in.status_code == 303, signed_in.text
    assert added.headers["location"] == "/account/?notice=passkey-added"
    assert renamed.headers["location"] == "/account/?notice=passkey-renamed"
    assert f"Signed in as <strong>{EMAIL}</strong>" in after.text
    assert re.findall(r'class="uk-passkey-name">([^<]+)<', after.text) == ["Phone", "Security key"]
