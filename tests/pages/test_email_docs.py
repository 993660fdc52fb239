"""The e-mail pages' docs example (``email-pages-app``) runs as written: link sign-in, confirmed change."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.pages.email_support import hidden_token
from tests.pages.support import PASSWORD, form_token, mailed_links, printed_mails
from tests.readme_examples import run_examples

EMAIL = "lancelot@camelot.bt"
NEW_EMAIL = "lancelot@joyous-gard.bt"
SITE = "http://127.0.0.1:8000"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def latest_link(output: str, to: str, path: str) -> str:
    """The path of the latest link to ``{SITE}{path}`` the console mailer printed for ``to``."""
    links = mailed_links(printed_mails(output), to, f"{SITE}{path}")
    assert links, output
    return links[-1].removeprefix(SITE)


async def press(client: httpx.AsyncClient, page: httpx.Response, action: str, data: dict[str, str]) -> httpx.Response:
    """Send ``data`` to ``action`` with ``page``'s form token, as the browser sends a same-origin form."""
    return await client.post(action, data={"csrf_token": form_token(page), **data}, headers={"origin": SITE})


async def test_email_pages_example(in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The documented pages sign a user in by the e-mailed link and change the address once the new one confirms."""
    namespace = run_examples("email-pages-app")
    app: FastAPI = namespace["app"]

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
            sign_up = await client.get("/account/sign-up")
            created = await press(client, sign_up, "/account/sign-up", {"email": EMAIL, "password": PASSWORD})
            request = await client.get("/account/email-login")
            sent = await press(client, request, "/account/email-login", {"email": EMAIL})
            link = await client.get(latest_link(capsys.readouterr().out, EMAIL, "/account/email-login/verify"))
            signed_in = await press(client, link, "/account/email-login/verify", {"token": hidden_token(link)})
            account = await client.get("/account/")
            asked = await press(client, account, "/account/email", {"email": NEW_EMAIL})
            confirm = await client.get(latest_link(capsys.readouterr().out, NEW_EMAIL, "/account/email/confirm"))
            confirmed = await press(client, confirm, "/account/email/confirm", {"token": hidden_token(confirm)})
            after = await client.get("/account/")
    await namespace["engine"].dispose()

    assert created.status_code == 303
    assert "Check your inbox" in sent.text
    assert signed_in.status_code == 303
    assert asked.headers["location"] == "/account/?notice=email-change-pending"
    assert f"Your e-mail address is now <strong>{NEW_EMAIL}</strong>" in confirmed.text
    assert f"Signed in as <strong>{NEW_EMAIL}</strong>" in after.text
