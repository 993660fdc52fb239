"""The README's OAuth section (``docs_snippets/oauth.md``): its example runs as written.

The example builds real ``GitHubOAuth2`` and ``GoogleOAuth2`` clients; the test swaps those two
classes for clients of the fake provider before executing it, so no request leaves the process.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import httpx_oauth.clients.github
import httpx_oauth.clients.google
import pytest

from tests.oauth.flows import authorize, oauth_login
from tests.oauth_provider import FakeOAuth2, FakeProvider
from tests.router.helpers import bearer

SNIPPET = Path(__file__).parents[2] / "docs_snippets" / "oauth.md"


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.fixture
async def example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> AsyncIterator[dict[str, Any]]:
    """The example's module namespace, executed with the fake provider behind both clients."""
    monkeypatch.chdir(tmp_path)  # the example's SQLite file lands in the test's directory
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def fake_client(name: str) -> Any:
        return lambda *_args, **_kwargs: FakeOAuth2(provider, name=name)

    monkeypatch.setattr(httpx_oauth.clients.github, "GitHubOAuth2", fake_client("github"))
    monkeypatch.setattr(httpx_oauth.clients.google, "GoogleOAuth2", fake_client("google"))
    [code] = _python_blocks(SNIPPET.read_text())
    namespace: dict[str, Any] = {"__name__": "oauth_example"}
    exec(compile(code, str(SNIPPET), "exec", dont_inherit=True), namespace)  # noqa: S102 - running our own documentation
    await namespace["create_db_and_tables"]()
    yield namespace
    await namespace["engine"].dispose()


async def test_example_logs_in_with_github_over_bearer(example: dict[str, Any], provider: FakeProvider) -> None:
    """GitHub login answers a Bearer token; /users/me lists the linked account without its tokens."""
    transport = httpx.ASGITransport(app=example["app"])
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        response = await oauth_login(client, provider, "alice", prefix="/auth/github")
        me = await client.get("/users/me", headers=bearer(response.json()["access_token"]))

    assert response.status_code == 200, response.text
    assert me.json()["email"] == "alice@example.com"
    assert me.json()["oauth_accounts"][0]["oauth_name"] == "github"
    assert "access_token" not in me.json()["oauth_accounts"][0]


async def test_example_logs_in_with_google_and_redirects(example: dict[str, Any], provider: FakeProvider) -> None:
    """Google login sets the auth cookie and redirects to the page ``next`` named."""
    transport = httpx.ASGITransport(app=example["app"])
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        url = await authorize(client, "/auth/google", next="/settings")
        response = await client.get(await provider.consent(url, "bob"))
        me = await client.get("/users/me")

    assert response.status_code == 302
    assert response.headers["location"] == "/settings"
    assert me.json()["is_verified"] is True


async def test_example_links_and_unlinks_github(example: dict[str, Any], provider: FakeProvider) -> None:
    """A Google user links a GitHub account through the associate router, then unlinks it."""
    transport = httpx.ASGITransport(app=example["app"])
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        await oauth_login(client, provider, "bob", prefix="/auth/google")
        linked = await oauth_login(client, provider, "alice", prefix="/auth/associate/github")
        unlinked = await client.delete("/auth/associate/github/accounts/1001")

    assert linked.status_code == 200, linked.text
    assert sorted(a["oauth_name"] for a in linked.json()["oauth_accounts"]) == ["github", "google"]
    assert [a["oauth_name"] for a in unlinked.json()["oauth_accounts"]] == ["google"]
