"""The README's two-factor pages example (``mfa-pages``) runs as written: set-up, sign-out, the second step."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from tests.pages.mfa_support import challenge_of, codes_of, post_form, secret_of
from tests.pages.support import PASSWORD, submit
from tests.readme_examples import run_examples

EMAIL = "gawain@camelot.bt"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_mfa_pages_example(in_tmp_dir: Path) -> None:
    """The documented pages ask a user who set up TOTP on them for a code after the password."""
    namespace = run_examples("quickstart", "mfa", "mfa-pages")
    app: FastAPI = namespace["app"]

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
            credentials = {"email": EMAIL, "password": PASSWORD}
            first = await submit(client, "/account/sign-in", "/account/sign-in", credentials)
            begun = await submit(client, "/account/two-factor", "/account/two-factor/totp", {})
            totp = pyotp.TOTP(secret_of(begun))
            codes = codes_of(await post_form(client, begun, "/account/two-factor/totp/confirm", {"code": totp.now()}))
            await submit(client, "/account/sign-out", "/account/sign-out", {})
            client.cookies.clear()
            second = await submit(client, "/account/sign-in", "/account/sign-in", credentials)
            done = await post_form(
                client, second, "/account/sign-in/code", {"challenge_token": challenge_of(second), "code": codes[0]}
            )
            account = await client.get("/account/")
    await namespace["engine"].dispose()

    assert first.status_code == 303
    assert "<svg" in begun.text
    assert len(codes) == 10
    assert "Enter your code" in second.text
    assert done.status_code == 303
    assert EMAIL in account.text
    assert "Recovery codes left" in account.text
