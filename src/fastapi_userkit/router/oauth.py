"""OAuth2 login and account linking on httpx-oauth clients.

:func:`get_oauth_router` logs users in with a provider (creating them on first login);
:func:`get_oauth_associate_router` lets a logged-in user link, and unlink, provider accounts.
Routes, names, parameters, status codes and error codes are FastAPI Users', with these fixes
(contract sections 2.6, 2.7 and 4.8):

* the ``state`` and its CSRF cookie are checked before the code is sent to the provider, and a
  bad state (missing, malformed, badly signed, another audience, expired) is a 400, never a 500;
* PKCE S256 on every flow, with the verifier bound to the browser's CSRF cookie;
* the CSRF cookie is deleted by every callback answer, so a state is tried at most once;
* a provider that refuses the code answers 400 ``OAUTH_INVALID_CODE``; one that fails or is
  unreachable, 502 ``OAUTH_PROVIDER_ERROR`` (FastAPI Users: 500 or an unhandled error);
* a provider account belongs to at most one user (400 ``OAUTH_ACCOUNT_ALREADY_LINKED``);
* ``DELETE /accounts/{account_id}`` on the associate router unlinks an account;
* with a cookie backend, ``post_login_redirect_urls`` turns the login answer into a redirect.

Requires the ``oauth`` extra (``pip install fastapi-userkit[oauth]``).
"""

# No ``from __future__ import annotations``: FastAPI must evaluate the routes' Annotated
# dependencies, which refer to this factory's local variables.
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from httpx_oauth.oauth2 import BaseOAuth2
from starlette.routing import NoMatchFound

from fastapi_userkit import exceptions
from fastapi_userkit._services.sign_in import SecondStep, SignIn
from fastapi_userkit.authentication import AuthenticationBackend, Strategy
from fastapi_userkit.authentication.transport.cookie import CookieTransport
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.jwt import SecretType
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router._oauth_flow import (
    CSRF_TOKEN_COOKIE_NAME,
    CSRF_TOKEN_KEY,
    STATE_TOKEN_AUDIENCE,
    CSRFCookie,
    OAuth2AuthorizeResponse,
    build_flow,
    generate_csrf_token,
    generate_state_token,
)
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.router.oauth_associate import get_oauth_associate_router

if TYPE_CHECKING:  # the two-factor package needs the ``mfa`` extra
    from fastapi_userkit.mfa.settings import MFA

__all__ = [
    "CSRF_TOKEN_COOKIE_NAME",
    "CSRF_TOKEN_KEY",
    "STATE_TOKEN_AUDIENCE",
    "OAuth2AuthorizeResponse",
    "generate_csrf_token",
    "generate_state_token",
    "get_oauth_associate_router",
    "get_oauth_router",
]

_NEXT_CLAIM = "next"


def _check_redirect_urls(urls: Sequence[str], backend: AuthenticationBackend[Any, Any]) -> tuple[str, ...]:
    if isinstance(urls, str):
        raise ConfigurationError("post_login_redirect_urls is a list of URLs, not one string.")
    allowed = tuple(urls)
    if allowed and not isinstance(backend.transport, CookieTransport):
        raise ConfigurationError("post_login_redirect_urls needs a backend with a CookieTransport.")
    for url in allowed:
        # A path of this site or an absolute http(s) URL; "//host" is a scheme-relative URL
        # to another site, almost certainly a mistake here.
        is_path = url.startswith("/") and not url.startswith("//")
        if not (is_path or url.startswith(("https://", "http://"))):
            raise ConfigurationError(f"post_login_redirect_urls: {url!r} is not a path or an http(s) URL.")
    return allowed


async def _no_second_step() -> None:
    """The second-step dependency of an app without two-factor login: nothing."""
    return None


def get_oauth_router(
    oauth_client: BaseOAuth2[Any],
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    state_secret: SecretType,
    redirect_url: str | None = None,
    associate_by_email: bool = False,
    is_verified_by_default: bool = False,
    *,
    csrf_token_cookie_name: str = CSRF_TOKEN_COOKIE_NAME,
    csrf_token_cookie_path: str = "/",  # noqa: S107 - a cookie path, not a password
    csrf_token_cookie_domain: str | None = None,
    csrf_token_cookie_secure: bool = True,
    csrf_token_cookie_httponly: bool = True,
    csrf_token_cookie_samesite: Literal["lax", "strict", "none"] = "lax",  # noqa: S107 - not a password
    post_login_redirect_urls: Sequence[str] = (),
    mfa: "MFA | None" = None,
) -> APIRouter:
    """Build the login router of one provider: ``GET /authorize`` and ``GET /callback``.

    Args:
        oauth_client: The httpx-oauth client (``GitHubOAuth2(...)``, ``GoogleOAuth2(...)``...).
        backend: The backend that logs the user in after the callback.
        get_user_manager: The user-manager dependency.
        state_secret: Signs the ``state`` and keys the PKCE verifier.
        redirect_url: The callback URL registered at the provider; by default the callback
            route's URL as the request sees it (set it behind a TLS-terminating proxy).
        associate_by_email: Link the provider account to an existing user with the same
            e-mail address. Only safe with providers that verify e-mail addresses.
        is_verified_by_default: Mark users created by this provider as verified.
        csrf_token_cookie_name: The CSRF cookie's name.
        csrf_token_cookie_path: The CSRF cookie's ``Path``.
        csrf_token_cookie_domain: The CSRF cookie's ``Domain``.
        csrf_token_cookie_secure: The CSRF cookie's ``Secure`` flag.
        csrf_token_cookie_httponly: The CSRF cookie's ``HttpOnly`` flag.
        csrf_token_cookie_samesite: The CSRF cookie's ``SameSite``.
        post_login_redirect_urls: New. With a cookie backend, answer a successful callback with
            a 302 to the first of these URLs (or to the one ``/authorize?next=`` picked) instead
            of a 204. Exact matches only, so the redirect cannot be turned into an open redirect.
        mfa: Two-factor login (new). A user with an active factor is answered like a password
            login: ``202`` with ``{"detail": "MFA_REQUIRED", "challenge_token", "methods"}`` (the
            state cookie is cleared), to be completed at ``POST /mfa`` of the same backend's
            auth router (issue 18, item 3). A browser flow (the state names one of
            ``post_login_redirect_urls``) in an app that mounts the account pages with ``mfa``
            is sent instead to their code form, ``GET {pages prefix}/sign-in/code`` (route
            ``pages:sign_in_code_page``), with the challenge in a short-lived ``HttpOnly``
            cookie, never in the URL; the code then leads to the redirect target. Mount this
            router for the pages' own cookie backend: the challenge is bound to it.

    Raises:
        ConfigurationError: An empty ``state_secret``; redirect URLs with a non-cookie
            backend, or that are neither a path nor an http(s) URL.
    """
    callback_route_name = f"oauth:{oauth_client.name}.{backend.name}.callback"
    cookie = CSRFCookie(
        csrf_token_cookie_name,
        csrf_token_cookie_path,
        csrf_token_cookie_domain,
        csrf_token_cookie_secure,
        csrf_token_cookie_httponly,
        csrf_token_cookie_samesite,
    )
    flow = build_flow(oauth_client, state_secret, redirect_url, callback_route_name, cookie)
    allowed_redirects = _check_redirect_urls(post_login_redirect_urls, backend)
    router = APIRouter(route_class=UserkitRoute)
    signing_in: SignIn[UP, ID] = SignIn(backend)
    get_second_step: Any = _no_second_step
    challenge_responses: dict[int | str, dict[str, Any]] = {}
    if mfa is not None:
        from fastapi_userkit.router.mfa import challenge_openapi

        get_second_step = mfa.second_step_dependency()
        challenge_responses = challenge_openapi()

    @router.get(
        "/authorize",
        name=f"oauth:{oauth_client.name}.{backend.name}.authorize",
        response_model=OAuth2AuthorizeResponse,
        responses=openapi_errors("oauth-redirect") if allowed_redirects else None,
    )
    async def authorize(
        request: Request,
        response: Response,
        scopes: Annotated[list[str] | None, Query()] = None,
        next_url: Annotated[
            str | None,
            Query(
                alias="next",
                include_in_schema=bool(allowed_redirects),
                description="Where to send the browser after login; one of the configured URLs.",
            ),
        ] = None,
    ) -> OAuth2AuthorizeResponse:
        state_data: dict[str, str] = {}
        if allowed_redirects:
            target = allowed_redirects[0] if next_url is None else next_url
            with translate("oauth-redirect"):
                if target not in allowed_redirects:
                    raise exceptions.OAuthRedirectNotAllowed()
            state_data[_NEXT_CLAIM] = target
        url = await flow.authorization_url(request, response, scopes, state_data)
        return OAuth2AuthorizeResponse(authorization_url=url)

    callback_errors = openapi_errors("oauth-callback", "oauth-email", "oauth", "login")
    success = backend.transport.get_openapi_login_responses_success()
    if allowed_redirects:
        success = {status.HTTP_302_FOUND: {"description": "Logged in; the cookie is set and the browser sent on."}}

    @router.get(
        "/callback",
        name=callback_route_name,
        description="The provider redirects the browser here after the user's consent.",
        responses={**callback_errors, **success, **challenge_responses},
    )
    async def callback(
        request: Request,
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
    ) -> Response:
        # The table's answers (state, provider, code) leave with the CSRF cookie deleted.
        with flow.consuming_cookie(), translate("oauth-callback"):
            token, state_data = await flow.callback(request, code, state, error)
            account_id, account_email = await flow.get_id_email(token)
            with translate("oauth-email", "oauth", "login"):
                if account_email is None:
                    raise exceptions.OAuthEmailNotAvailable()
                user = await user_manager.oauth_callback(
                    oauth_client.name,
                    token["access_token"],
                    account_id,
                    account_email,
                    token.get("expires_at"),
                    token.get("refresh_token"),
                    request,
                    associate_by_email=associate_by_email,
                    is_verified_by_default=is_verified_by_default,
                )
                if not user.is_active:
                    raise exceptions.InvalidCredentials()
        target = state_data.get(_NEXT_CLAIM)

        def respond(login: Response) -> Response:
            response = login
            if allowed_redirects and target in allowed_redirects:
                response = _redirect_with_cookies(str(target), login)
            cookie.delete(response)
            return response

        # Issue 18: a user with a second factor answers a challenge first, as after a password.
        challenge = await signing_in.challenge(request, user_manager, user, second_step)
        if challenge is not None:
            if second_step is not None and allowed_redirects and target in allowed_redirects:
                # A browser: the account pages' code form, when they are mounted with mfa.
                challenge = _to_code_page(request, challenge, str(target), second_step, backend)
            cookie.delete(challenge)
            return challenge
        # The password login's completion: with refresh on, an OAuth login opens a session too.
        return await signing_in.complete(request, user_manager, strategy, user, respond=respond)

    return router


def _to_code_page(
    request: Request,
    challenge: Response,
    target: str,
    second_step: SecondStep,
    backend: AuthenticationBackend[Any, Any],
) -> Response:
    """The browser's answer to a challenge: the account pages' code form, or the JSON ``202``.

    The pages' ``GET /sign-in/code`` is found by its route name, so an app that mounts the pages
    with ``mfa`` needs nothing more; without it the API's answer stands (issue 18, item 3).
    """
    try:
        page = request.url_for("pages:sign_in_code_page")
    except NoMatchFound:
        return challenge
    # Imported here: the pages need the ``pages`` extra, and the route's presence proves it.
    from fastapi_userkit.pages._second_step import carry_challenge

    secure = isinstance(backend.transport, CookieTransport) and backend.transport.cookie_secure
    return carry_challenge(challenge, page, target, second_step.lifetime, secure=secure)


def _redirect_with_cookies(url: str, login_response: Response) -> Response:
    redirect = RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    for value in login_response.headers.getlist("set-cookie"):
        redirect.headers.append("set-cookie", value)
    return redirect
