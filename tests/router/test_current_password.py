"""``get_users_router(require_current_password=True)``: PATCH /users/me needs the current password
to change the e-mail or the password (issue 16, item 6); the default keeps FastAPI Users' behaviour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fastapi_userkit.manager import REDACTED
from tests.app_factory import TestApp, UserRead, UserUpdate, make_app
from tests.conftest import SessionMaker
from tests.router.helpers import PASSWORD, bearer, client_for, create_user, fetch_user, login

STRICT = "/strict"
NEW_PASSWORD = "a brand new passphrase"
REQUIRED = {"detail": "UPDATE_USER_CURRENT_PASSWORD_REQUIRED"}
INVALID = {"detail": "UPDATE_USER_CURRENT_PASSWORD_INVALID"}


@pytest.fixture
def strict_app(http_db: SessionMaker) -> TestApp:
    """The documented app, plus a users router with the opt-in at ``/strict``, on SQLite and PostgreSQL."""
    test_app = make_app(http_db)
    router = test_app.fastapi_users.get_users_router(UserRead, UserUpdate, require_current_password=True)
    test_app.app.include_router(router, prefix=STRICT)
    return test_app


@pytest.fixture
async def strict_client(strict_app: TestApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``strict_app``."""
    async with client_for(strict_app.app) as client:
        yield client


async def _headers(test_app: TestApp, client: httpx.AsyncClient) -> dict[str, str]:
    await create_user(test_app)
    return bearer(await login(client))


@pytest.mark.parametrize("body", [{"email": "new@example.com"}, {"password": NEW_PASSWORD}], ids=["email", "password"])
async def test_change_without_current_password_is_refused(
    strict_app: TestApp, strict_client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    """Changing the e-mail or the password without current_password is 400 ..._REQUIRED, and nothing changes."""
    headers = await _headers(strict_app, strict_client)

    response = await strict_client.patch(f"{STRICT}/me", json=body, headers=headers)

    assert (response.status_code, response.json()) == (400, REQUIRED)
    assert "on_after_update" not in strict_app.hooks.names()
    assert (await strict_client.get("/users/me", headers=headers)).json()["email"] == "user@example.com"


@pytest.mark.parametrize("body", [{"email": "new@example.com"}, {"password": NEW_PASSWORD}], ids=["email", "password"])
async def test_change_with_a_wrong_current_password_is_refused(
    strict_app: TestApp, strict_client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    """A wrong current_password is 400 ..._INVALID, and nothing changes."""
    headers = await _headers(strict_app, strict_client)

    response = await strict_client.patch(
        f"{STRICT}/me", json={**body, "current_password": "not the password"}, headers=headers
    )

    assert (response.status_code, response.json()) == (400, INVALID)
    assert "on_after_update" not in strict_app.hooks.names()
    assert await fetch_user(strict_app, "user@example.com") is not None


async def test_email_change_with_the_current_password(strict_app: TestApp, strict_client: httpx.AsyncClient) -> None:
    """With the right current_password the e-mail changes; the password reaches neither the hook nor the row."""
    headers = await _headers(strict_app, strict_client)

    response = await strict_client.patch(
        f"{STRICT}/me", json={"email": "new@example.com", "current_password": PASSWORD}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["email"] == "new@example.com"
    assert "current_password" not in response.json()
    assert strict_app.hooks.last("on_after_update")["update_dict"] == {"email": "new@example.com"}
    assert await fetch_user(strict_app, "new@example.com") is not None


async def test_password_change_with_the_current_password(strict_app: TestApp, strict_client: httpx.AsyncClient) -> None:
    """With the right current_password the password changes: the new one logs in, the hook sees it redacted."""
    headers = await _headers(strict_app, strict_client)

    response = await strict_client.patch(
        f"{STRICT}/me", json={"password": NEW_PASSWORD, "current_password": PASSWORD}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert strict_app.hooks.last("on_after_update")["update_dict"] == {"password": REDACTED}
    assert await login(strict_client, password=NEW_PASSWORD)


@pytest.mark.parametrize(
    "body", [{"first_name": "Lancelot"}, {"email": None, "password": None}], ids=["other-field", "nulls"]
)
async def test_other_changes_need_no_current_password(
    strict_app: TestApp, strict_client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    """Fields other than e-mail and password (and nulls, which change nothing) need no current password."""
    headers = await _headers(strict_app, strict_client)

    response = await strict_client.patch(f"{STRICT}/me", json=body, headers=headers)

    assert response.status_code == 200, response.text


async def test_wrong_current_passwords_count_as_failed_logins(
    strict_app: TestApp, strict_client: httpx.AsyncClient
) -> None:
    """Wrong current passwords use the account's login budget: after five, the login throttle answers 429."""
    headers = await _headers(strict_app, strict_client)
    wrong = {"email": "new@example.com", "current_password": "not the password"}

    answers = [(await strict_client.patch(f"{STRICT}/me", json=wrong, headers=headers)).status_code for _ in range(5)]
    next_login = await strict_client.post(
        "/auth/jwt/login", data={"username": "user@example.com", "password": PASSWORD}
    )

    assert answers == [400] * 5
    assert next_login.status_code == 429


async def test_default_router_keeps_fastapi_users_behaviour(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """Without the opt-in, PATCH /users/me changes the e-mail with no current password, as in FastAPI Users."""
    headers = await _headers(test_app, client)

    response = await client.patch("/users/me", json={"email": "new@example.com"}, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["email"] == "new@example.com"


def test_openapi_lists_the_field_and_the_codes(strict_app: TestApp) -> None:
    """OpenAPI shows current_password in the strict body and its two 400 codes, and neither on the default route."""
    schema = strict_app.app.openapi()
    strict = schema["paths"][f"{STRICT}/me"]["patch"]
    default = schema["paths"]["/users/me"]["patch"]
    strict_body = strict["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    default_body = default["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]

    strict_codes = set(strict["responses"]["400"]["content"]["application/json"]["examples"])
    default_codes = set(default["responses"]["400"]["content"]["application/json"]["examples"])
    current = schema["components"]["schemas"][strict_body]["properties"]["current_password"]
    assert {"UPDATE_USER_CURRENT_PASSWORD_REQUIRED", "UPDATE_USER_CURRENT_PASSWORD_INVALID"} <= strict_codes
    assert not {"UPDATE_USER_CURRENT_PASSWORD_REQUIRED", "UPDATE_USER_CURRENT_PASSWORD_INVALID"} & default_codes
    assert current["anyOf"][0] == {"type": "string", "format": "password", "writeOnly": True}
    assert "current_password" not in schema["components"]["schemas"][default_body]["properties"]
    assert "429" in strict["responses"]


@pytest.mark.parametrize("current", ['"\\ud800x"', '"' + "x" * 5000 + '"'], ids=["lone-surrogate", "over-the-cap"])
async def test_unusable_current_password_is_invalid_not_an_error(
    strict_app: TestApp, strict_client: httpx.AsyncClient, current: str
) -> None:
    """A current password no hasher can take (a lone surrogate, past the byte cap) is 400 ..._INVALID, never a 500."""
    headers = await _headers(strict_app, strict_client)
    body = '{"email": "new@example.com", "current_password": ' + current + "}"

    response = await strict_client.patch(
        f"{STRICT}/me", content=body, headers={**headers, "Content-Type": "application/json"}
    )

    assert (response.status_code, response.json()) == (400, INVALID)
