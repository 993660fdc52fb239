"""The README's pages section (``docs_snippets/pages.md``): its example runs as written."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastapi_userkit.pages._render import stylesheet_text
from tests.pages.support import PASSWORD, form_token, mailed_links, printed_mails, submit

SNIPPET = Path(__file__).parents[2] / "docs_snippets" / "pages.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SNIPPET.read_text(), flags=re.DOTALL)


@pytest.fixture
async def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    """The example's namespace, run in a fresh directory holding the snippet's template override."""
    monkeypatch.chdir(tmp_path)  # the example's SQLite file and template directory are relative
    [override] = _blocks("html")
    (tmp_path / "templates" / "userkit").mkdir(parents=True)
    (tmp_path / "templates" / "userkit" / "sign_in.html").write_text(override)
    [code] = _blocks("python")
    namespace: dict[str, Any] = {"__name__": "pages_example"}
    exec(compile(code, str(SNIPPET), "exec", dont_inherit=True), namespace)  # noqa: S102 - running our own documentation
    await namespace["create_db_and_tables"]()
    yield namespace
    await namespace["engine"].dispose()


async def test_example_signs_up_verifies_and_signs_in(
    example: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented app: sign up, follow the console e-mail's link, sign in on the overridden page."""
    transport = httpx.ASGITransport(app=example["app"])

    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        origin = {"origin": "http://127.0.0.1:8000"}
        await submit(
            client, "/account/sign-up", "/account/sign-up", {"email": "ro@example.com", "password": PASSWORD}, **origin
        )
        [link] = mailed_links(
            printed_mails(capsys.readouterr().out), "ro@example.com", "http://127.0.0.1:8000/account/verify"
        )
        opened = await client.get(link.removeprefix("http://127.0.0.1:8000"))
        token = re.search(r'name="token" value="([^"]+)"', opened.text)
        assert token is not None
        verified = await client.post(
            "/account/verify", data={"csrf_token": form_token(opened), "token": token.group(1)}, headers=origin
        )
        sign_in_page = await client.get("/account/sign-in")
        signed_in = await submit(
            client, "/account/sign-in", "/account/sign-in", {"email": "ro@example.com", "password": PASSWORD}, **origin
        )
        account = await client.get("/account/")

    assert "Your e-mail address is verified" in verified.text
    assert "Welcome back to Example" in sign_in_page.text
    assert signed_in.headers["location"] == "/account/"
    assert "uk-badge-ok" in account.text


def test_documented_style_properties_exist() -> None:
    """Every custom property the restyling example sets is one the built-in stylesheet uses."""
    [css] = _blocks("css")

    properties = re.findall(r"(--uk-[a-z-]+):", css)

    assert properties
    assert all(f"var({name})" in stylesheet_text() for name in properties)
