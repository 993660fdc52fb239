"""docs/email.md's e-mail change examples: the app's wiring and the API client's calls, run end to end over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from fastapi_userkit.testing import Outbox
from tests.email_auth.conftest import link_token
from tests.readme_examples import run_examples

OLD = "arthur@camelot.bt"
NEW = "arthur@avalon.bt"
PASSWORD = "excalibur-is-mine-1189"
CONFIRM = "http://localhost:8000/account/email/confirm?token={token}"
REVERT = "http://localhost:8000/account/email/revert?token={token}"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_email_change_example(in_tmp_dir: Path) -> None:
    """PATCH and POST start pending changes; the newer link confirms; the old address's link reverts and signs out."""
    namespace = run_examples("email-change-app", "email-change-client")
    app: FastAPI = namespace["app"]
    outbox = Outbox()
    namespace["email_mailer"].account_mailer.mailer = outbox.mailer  # the page's ConsoleMailer, captured
    ask, confirm, revert = (
        namespace["change_my_email"],
        namespace["confirm_email_change"],
        namespace["this_was_not_me"],
    )

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
            await client.post("/auth/register", json={"email": OLD, "password": PASSWORD})
            login = await client.post("/auth/db/login", data={"username": OLD, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            patched = await client.patch("/users/me", json={"email": "first@avalon.bt"}, headers=headers)
            first = link_token(outbox.last(to="first@avalon.bt"), CONFIRM)
            pending = await ask(client, headers, NEW)
            with pytest.raises(httpx.HTTPStatusError) as replaced:
                await confirm(client, first)
            confirmed = await confirm(client, link_token(outbox.last(to=NEW), CONFIRM))
            reverted = await revert(client, link_token(outbox.last(to=OLD), REVERT))
            signed_out = await client.get("/users/me", headers=headers)
    await namespace["engine"].dispose()

    assert (patched.status_code, patched.json()["email"]) == (202, OLD)
    assert pending["new_email"] == NEW
    assert replaced.value.response.json() == {"detail": "EMAIL_LINK_USED"}
    assert confirmed["email"] == NEW
    assert reverted == {"email": OLD, "restored": True, "address_taken": False, "password_cleared": True}
    assert signed_out.status_code == 401
