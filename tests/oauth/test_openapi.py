"""The OAuth routes in the OpenAPI schema and the public names of ``fastapi_userkit.router``."""

from __future__ import annotations

from typing import Any

import httpx

from fastapi_userkit import router
from fastapi_userkit.router import oauth
from tests.app_factory import TestApp


def _examples(operation: dict[str, Any], status_code: str) -> set[str]:
    content = operation["responses"][status_code]["content"]["application/json"]
    return set(content["examples"])


async def test_openapi_lists_the_routes_and_their_errors(client: httpx.AsyncClient) -> None:
    """Every OAuth route appears with its operation id and the error codes it can answer."""
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]

    login_callback = paths["/auth/fake/callback"]["get"]
    associate_callback = paths["/auth/associate/fake/callback"]["get"]
    unlink = paths["/auth/associate/fake/accounts/{account_id}"]["delete"]
    assert "/auth/fake/authorize" in paths
    assert "/auth/associate/fake/authorize" in paths
    assert {"ACCESS_TOKEN_DECODE_ERROR", "OAUTH_INVALID_STATE", "OAUTH_USER_ALREADY_EXISTS"} <= _examples(
        login_callback, "400"
    )
    assert _examples(login_callback, "502") == {"OAUTH_PROVIDER_ERROR"}
    assert "OAUTH_ACCOUNT_ALREADY_LINKED" in _examples(associate_callback, "400")
    assert _examples(unlink, "404") == {"OAUTH_ACCOUNT_NOT_LINKED"}
    assert _examples(unlink, "400") == {"OAUTH_LAST_LOGIN_METHOD"}


async def test_oauth_account_schema_has_no_tokens(client: httpx.AsyncClient) -> None:
    """The response schema of BaseOAuthAccount does not advertise the provider tokens."""
    schema = (await client.get("/openapi.json")).json()

    account = next(
        value for name, value in schema["components"]["schemas"].items() if name.startswith("BaseOAuthAccount")
    )

    assert "access_token" not in account["properties"]
    assert "refresh_token" not in account["properties"]


def test_route_names_are_fastapi_users_names(test_app: TestApp) -> None:
    """The routes carry FastAPI Users' names (plus the new unlink one), usable with url_path_for."""
    app = test_app.app

    paths = [
        app.url_path_for("oauth:fake.jwt.authorize"),
        app.url_path_for("oauth:fake.jwt.callback"),
        app.url_path_for("oauth:fake.cookie.callback"),
        app.url_path_for("oauth-associate:fake.authorize"),
        app.url_path_for("oauth-associate:fake.callback"),
        app.url_path_for("oauth-associate:fake.unlink", account_id="1001"),
    ]

    assert paths == [
        "/auth/fake/authorize",
        "/auth/fake/callback",
        "/auth/fake-cookie/callback",
        "/auth/associate/fake/authorize",
        "/auth/associate/fake/callback",
        "/auth/associate/fake/accounts/1001",
    ]


def test_router_package_exports_the_oauth_factories() -> None:
    """``fastapi_userkit.router`` exports the factories and ``router.oauth`` FastAPI Users' constants."""
    token = oauth.generate_state_token({"csrftoken": "t"}, "state-secret-for-a-unit-test-0123456789")

    assert {"get_oauth_router", "get_oauth_associate_router"} <= set(router.__all__)
    assert router.get_oauth_router is oauth.get_oauth_router
    assert oauth.STATE_TOKEN_AUDIENCE == "fastapi-users:oauth-state"
    assert oauth.CSRF_TOKEN_KEY == "csrftoken"
    assert oauth.CSRF_TOKEN_COOKIE_NAME == "fastapiusersoauthcsrf"
    assert oauth.OAuth2AuthorizeResponse(authorization_url="u").authorization_url == "u"
    assert len(oauth.generate_csrf_token()) == 43
    assert token.count(".") == 2
