"""OAuth2 account linking: a logged-in user links, and unlinks, provider accounts.

Routes, names, parameters and error codes are FastAPI Users' ``get_oauth_associate_router``, with
the fixes listed in :mod:`fastapi_userkit.router.oauth` (state checked before the code is spent,
PKCE, single-use CSRF cookie, one user per provider account) and ``DELETE /accounts/{account_id}``
to unlink. Import it from :mod:`fastapi_userkit.router.oauth`, as in FastAPI Users.

Requires the ``oauth`` extra (``pip install fastapi-userkit[oauth]``).
"""

# No ``from __future__ import annotations``: FastAPI must evaluate the routes' Annotated
# dependencies, which refer to this factory's local variables.
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from httpx_oauth.oauth2 import BaseOAuth2

from fastapi_userkit import exceptions, schemas
from fastapi_userkit.authentication import Authenticator
from fastapi_userkit.jwt import SecretType
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._oauth_flow import CSRF_TOKEN_COOKIE_NAME, CSRFCookie, OAuth2AuthorizeResponse, build_flow
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors, translate

__all__ = ["get_oauth_associate_router"]


def get_oauth_associate_router(
    oauth_client: BaseOAuth2[Any],
    authenticator: Authenticator[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    user_schema: type[schemas.U],
    state_secret: SecretType,
    redirect_url: str | None = None,
    requires_verification: bool = False,
    *,
    csrf_token_cookie_name: str = CSRF_TOKEN_COOKIE_NAME,
    csrf_token_cookie_path: str = "/",  # noqa: S107 - a cookie path, not a password
    csrf_token_cookie_domain: str | None = None,
    csrf_token_cookie_secure: bool = True,
    csrf_token_cookie_httponly: bool = True,
    csrf_token_cookie_samesite: Literal["lax", "strict", "none"] = "lax",  # noqa: S107 - not a password
) -> APIRouter:
    """Build the account-linking router of one provider for logged-in users.

    ``GET /authorize`` and ``GET /callback`` link the provider account to the current user;
    ``DELETE /accounts/{account_id}`` (new) unlinks it. Every route needs an active user (and a verified
    one with ``requires_verification``).

    Args:
        oauth_client: The httpx-oauth client.
        authenticator: Resolves the current user.
        get_user_manager: The user-manager dependency.
        user_schema: The read schema the callback and unlink routes answer with.
        state_secret: Signs the ``state`` and keys the PKCE verifier.
        redirect_url: The callback URL registered at the provider (see :func:`get_oauth_router`).
        requires_verification: Only verified users may link or unlink accounts.
        csrf_token_cookie_name: The CSRF cookie's name.
        csrf_token_cookie_path: The CSRF cookie's ``Path``.
        csrf_token_cookie_domain: The CSRF cookie's ``Domain``.
        csrf_token_cookie_secure: The CSRF cookie's ``Secure`` flag.
        csrf_token_cookie_httponly: The CSRF cookie's ``HttpOnly`` flag.
        csrf_token_cookie_samesite: The CSRF cookie's ``SameSite``.

    Raises:
        ConfigurationError: An empty ``state_secret``.
    """
    callback_route_name = f"oauth-associate:{oauth_client.name}.callback"
    cookie = CSRFCookie(
        csrf_token_cookie_name,
        csrf_token_cookie_path,
        csrf_token_cookie_domain,
        csrf_token_cookie_secure,
        csrf_token_cookie_httponly,
        csrf_token_cookie_samesite,
    )
    flow = build_flow(oauth_client, state_secret, redirect_url, callback_route_name, cookie)
    get_current_active_user = authenticator.current_user(active=True, verified=requires_verification)
    router = APIRouter(route_class=UserkitRoute)

    auth_errors: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        auth_errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]

    @router.get(
        "/authorize",
        name=f"oauth-associate:{oauth_client.name}.authorize",
        response_model=OAuth2AuthorizeResponse,
        responses=openapi_errors(extra=auth_errors),
    )
    async def authorize(
        request: Request,
        response: Response,
        user: Annotated[UP, Depends(get_current_active_user)],
        scopes: Annotated[list[str] | None, Query()] = None,
    ) -> OAuth2AuthorizeResponse:
        url = await flow.authorization_url(request, response, scopes, {"sub": str(user.id)})
        return OAuth2AuthorizeResponse(authorization_url=url)

    @router.get(
        "/callback",
        name=callback_route_name,
        response_model=user_schema,
        description="The provider redirects the browser here after the user's consent.",
        responses=openapi_errors("oauth-callback", "oauth-email", "oauth-associate", extra=auth_errors),
    )
    async def callback(
        request: Request,
        response: Response,
        user: Annotated[UP, Depends(get_current_active_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
    ) -> schemas.BaseUser[ID]:
        # The table's answers (state, provider, code) leave with the CSRF cookie deleted.
        with flow.consuming_cookie(), translate("oauth-callback"):
            # A flow started by another user of this browser is refused (400 "Bad Request").
            token, _ = await flow.callback(request, code, state, error, subject=str(user.id))
            account_id, account_email = await flow.get_id_email(token)
            with translate("oauth-email", "oauth-associate"):
                if account_email is None:
                    raise exceptions.OAuthEmailNotAvailable()
                user = await user_manager.oauth_associate_callback(
                    user,
                    oauth_client.name,
                    token["access_token"],
                    account_id,
                    account_email,
                    token.get("expires_at"),
                    token.get("refresh_token"),
                    request,
                )
        cookie.delete(response)
        return user_schema.model_validate(user)

    # A literal first segment: a bare "/{account_id:path}" would capture every DELETE the app
    # registers after this router when it is included without a prefix (as FastAPI Users' own
    # tests include it), ``DELETE /users/me`` among them (issue 16, item 10).
    @router.delete(
        "/accounts/{account_id:path}",
        name=f"oauth-associate:{oauth_client.name}.unlink",
        response_model=user_schema,
        description=(
            f"Unlink the current user's {oauth_client.name} account. Refused for the last linked "
            "account of a user without a usable password."
        ),
        responses=openapi_errors("oauth-unlink", extra=auth_errors),
    )
    async def unlink(
        request: Request,
        account_id: str,
        user: Annotated[UP, Depends(get_current_active_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
    ) -> schemas.BaseUser[ID]:
        with translate("oauth-unlink"):
            user = await user_manager.oauth_unlink(user, oauth_client.name, account_id, request)
        return user_schema.model_validate(user)

    return router
