"""The README's e-mail sign-in examples: the app's wiring and the API client's code and link, run end to end."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from fastapi_userkit.testing import Outbox
from tests.email_auth.conftest import code_of, link_token
from tests.readme_examples import run_examples

PASSWORD = "excalibur-is-mine-1189"
EMAIL = "arthur@camelot.bt"
LINK = "http://localhost:8000/sign-in/email?token={token}"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_email_login_example(in_tmp_dir: Path) -> None:
    """The code signs in once, the link of the next e-mail signs in once, an unknown address gets the same 202."""
    namespace = run_examples("quickstart", "email-login", "email-login-client")
    app: FastAPI = namespace["app"]
    outbox = Outbox()
    namespace["email_mailer"].account_mailer.mailer = outbox.mailer  # the README's ConsoleMailer, captured
    request, with_code, with_link = (
        namespace["email_me_a_sign_in"],
        namespace["sign_in_with_code"],
        namespace["sign_in_with_link"],
    )

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
            await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
            await request(client, EMAIL)
            first = outbox.last()
            by_code = await with_code(client, EMAIL, code_of(first))
            with pytest.raises(httpx.HTTPStatusError) as spent:
                await with_link(client, link_token(first, LINK))
            await request(client, EMAIL)
            by_link = await with_link(client, link_token(outbox.last(), LINK))
            me = await client.get("/users/me", headers={"Authorization": f"Bearer {by_link}"})
            sent = len(outbox.messages)
            await request(client, "nobody@camelot.bt")
    await namespace["engine"].dispose()

    assert by_code
    assert spent.value.response.json() == {"detail": "EMAIL_LINK_USED"}
    assert me.json()["email"] == EMAIL
    assert len(outbox.messages) == sent
