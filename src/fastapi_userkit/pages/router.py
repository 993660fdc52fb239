"""The router factory of the account pages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Response
from pydantic import SecretStr

from fastapi_userkit import schemas
from fastapi_userkit.authentication import AuthenticationBackend, Authenticator
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.manager import UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.pages._account import add_account_pages
from fastapi_userkit.pages._csrf import FormCSRF
from fastapi_userkit.pages._email_hooks import NO_EMAIL_CHANGE
from fastapi_userkit.pages._passkey_hooks import NO_PASSKEYS
from fastapi_userkit.pages._public import add_public_pages
from fastapi_userkit.pages._render import PageRenderer, stylesheet_text
from fastapi_userkit.pages._site import OAuthProvider, Site
from fastapi_userkit.pages._two_factor_hooks import NO_TWO_FACTOR
from fastapi_userkit.security.csrf import CSRFProtection, is_cookie_transport
from fastapi_userkit.security.ratelimit.limiter import RateLimitFlow
from fastapi_userkit.security.settings import CSRFSettings, SecuritySettings
from fastapi_userkit.types import DependencyCallable

if TYPE_CHECKING:  # the two-factor package needs the ``mfa`` extra
    from fastapi_userkit.email_auth import EmailChangeService, EmailSignInService
    from fastapi_userkit.mfa.settings import MFA
    from fastapi_userkit.passkeys.service import PasskeyService

__all__ = ["get_pages_router"]

_MIN_SECRET_BYTES = 32
_FLOWS: tuple[RateLimitFlow, ...] = (
    "login",
    "register",
    "forgot_password",
    "reset_password",
    "request_verify_token",
    "verify",
)


def get_pages_router(
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    *,
    secret: str | SecretStr,
    backends: Sequence[AuthenticationBackend[UP, ID]] | None = None,
    security: SecuritySettings | None = None,
    requires_verification: bool = False,
    user_create_schema: type[schemas.BaseUserCreate] = schemas.BaseUserCreate,
    user_update_schema: type[schemas.BaseUserUpdate] = schemas.BaseUserUpdate,
    send_verification: bool = True,
    hide_existing_users: bool = False,
    app_name: str = "Your account",
    template_dirs: Sequence[str | Path] = (),
    stylesheets: Sequence[str] = (),
    oauth_providers: Sequence[OAuthProvider] = (),
    mfa: MFA | None = None,
    email_sign_in: DependencyCallable[EmailSignInService[UP, ID]] | None = None,
    email_change: DependencyCallable[EmailChangeService[UP, ID]] | None = None,
    email_change_fresh_within: int = 300,
    get_passkey_service: DependencyCallable[PasskeyService] | None = None,
    passkey_sign_up: bool = True,
) -> APIRouter:
    """Build the server-rendered account pages (new in fastapi-userkit; needs the ``pages`` extra).

    Routes, relative to the prefix the router is mounted at (``/account`` in the README):
    ``/sign-in``, ``/sign-up``, ``/sign-out``, ``/forgot-password``, ``/reset-password``,
    ``/verify``, ``/resend-verification``, ``/`` (the account page, with its forms under
    ``/email``, ``/password``, ``/sessions/...``, ``/oauth/unlink``) and ``/userkit.css``.
    Their route names are ``pages:<page>`` (``pages:sign_in``...).

    Args:
        backend: The cookie backend the pages sign users in with. It must have refresh on
            (``AuthenticationBackend(..., refresh=RefreshSettings(...))``): each sign-in is then
            a server-side session that "Sign out" ends, and with it every cookie issued for it.
        get_user_manager: The user-manager dependency.
        secret: Signs the forms' CSRF tokens (at least 32 bytes).
        backends: All the app's backends (default: ``[backend]``). A password change ends the
            sessions of every one of them that can enumerate its tokens.
        security: The app's security settings (``FastAPIUsers.security``): rate limits and the
            ``Origin`` check's trusted origins. The pages check CSRF even when ``security.csrf``
            is ``None``: their forms always travel with a cookie.
        requires_verification: Refuse sign-in and the account page to unverified users.
        user_create_schema: Validates the sign-up form; its extra fields are filled from form
            fields of the same name (add them to an overridden ``sign_up.html``).
        user_update_schema: Validates the e-mail and password changes.
        send_verification: E-mail a verification link after sign-up and after an e-mail change.
        hide_existing_users: Answer a sign-up with a taken address like a new one and call
            ``on_registration_conflict`` (as the register router's option; ASVS 5.0 6.3.8).
        app_name: Shown in the pages' header and titles.
        template_dirs: Searched before the built-in templates: put ``userkit/sign_in.html``
            there to replace that page alone.
        stylesheets: Stylesheet URLs linked after the built-in one (restyling without forking).
        oauth_providers: Login buttons shown on the sign-in and sign-up pages.
        mfa: Two-factor login (``FastAPIUsers`` passes its own): the sign-in asks a user with a
            factor for the second step, ``/two-factor`` manages the factor, and a sensitive
            change of a user with a factor whose two-factor sign-in is older than
            ``mfa.step_up_within`` goes through ``/confirm`` first (issue 18).
        email_sign_in: A dependency giving the request's
            :class:`~fastapi_userkit.email_auth.EmailSignInService`: the sign-in page offers
            "E-mail me a sign-in link" (``/email-login``; the e-mailed link opens
            ``/email-login/verify``, which ``EmailSignInSettings.link_url`` must name; issue 20).
        email_change: A dependency giving the request's
            :class:`~fastapi_userkit.email_auth.EmailChangeService`: the account page's e-mail
            form then starts a confirmed change (the new address confirms at ``/email/confirm``,
            the old one can revert at ``/email/revert``: T40) instead of changing it at once.
        email_change_fresh_within: How recent (seconds) the sign-in of a user without a password
            must be to ask for an e-mail change (a user with one types it instead).
        get_passkey_service: A dependency giving the request's
            :class:`~fastapi_userkit.passkeys.PasskeyService` (needs the ``passkeys`` extra): the
            pages then offer passkeys (issue 19): "Sign in with a passkey" on the sign-in page,
            "Create an account with a passkey" (no password) on the sign-up page, a passkeys
            section on the account page (add, rename, delete, under the JSON routes' freshness
            rule), "Confirm with a passkey" on "confirm it's you" and, with ``mfa``, "Use a
            passkey" on the second step, through a script the router serves at
            ``/userkit-passkeys.js``.
        passkey_sign_up: With ``get_passkey_service``, offer "Create an account with a passkey"
            (the account gets no password). It needs UUID user ids (``UUIDIDMixin``): turn it off
            for integer ids. Off whatever its value with ``hide_existing_users``, since a passkey
            sign-up tells at once whether the address has an account.

    Raises:
        ConfigurationError: ``backend`` does not use a cookie transport or has refresh off, or
            ``secret`` is shorter than 32 bytes.
    """
    if not is_cookie_transport(backend.transport):
        raise ConfigurationError("The pages need a backend with a CookieTransport.")
    if backend.refresh is None:
        # A sign-out button must end the session (ASVS 5.0 7.4.1; issue 16, item 9): without
        # sessions, a copied cookie of a plain JWT backend would stay valid until it expires.
        raise ConfigurationError(
            f"The pages' backend {backend.name!r} needs refresh on "
            "(AuthenticationBackend(..., refresh=RefreshSettings(...))), so that signing out ends the "
            "session and every cookie issued for it; mount that backend's auth router too."
        )
    secret_value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if len(secret_value.encode()) < _MIN_SECRET_BYTES:
        raise ConfigurationError("get_pages_router needs a secret of at least 32 bytes.")
    security = security if security is not None else SecuritySettings()
    transport: Any = backend.transport
    all_backends = list(backends) if backends is not None else [backend]
    if backend not in all_backends:
        all_backends.append(backend)

    async def only_the_cookie_backend() -> list[AuthenticationBackend[UP, ID]]:
        return [backend]

    # The pages check CSRF themselves, on the form (the API's token header cannot travel with
    # a form), so their authenticator leaves it to them.
    authenticator = Authenticator(
        all_backends,
        get_user_manager,
        security=SecuritySettings(rate_limit=None, csrf=None, trusted_proxy_count=security.trusted_proxy_count),
    )
    origin_check = CSRFProtection(security.csrf if security.csrf is not None else CSRFSettings())
    site = Site(
        backend=backend,
        get_user_manager=get_user_manager,
        current_user_token=authenticator.current_user_token(
            optional=True, active=True, get_enabled_backends=only_the_cookie_backend
        ),
        renderer=PageRenderer(
            template_dirs, stylesheets, {"app_name": app_name}, scripts=get_passkey_service is not None
        ),
        csrf=FormCSRF(
            secret_value.encode(),
            origin_check,
            secure=bool(transport.cookie_secure),
            session_cookie=str(transport.cookie_name),
        ),
        api_csrf=security.csrf_protection(),
        guards={flow: security.flow_guard(flow) for flow in _FLOWS},
        requires_verification=requires_verification,
        user_create_schema=user_create_schema,
        user_update_schema=user_update_schema,
        send_verification=send_verification,
        hide_existing_users=hide_existing_users,
        stylesheets=tuple(stylesheets),
        oauth_providers=tuple(oauth_providers),
    )
    router = APIRouter(include_in_schema=False)
    stylesheet = stylesheet_text()

    @router.get("/userkit.css", name="pages:stylesheet")
    async def stylesheet_route() -> Response:
        return Response(
            stylesheet,
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    hooks = NO_TWO_FACTOR
    two_factor = None
    if mfa is not None:
        from fastapi_userkit.pages._second_step import TwoFactorPages
        from fastapi_userkit.pages._two_factor import add_two_factor_pages, two_factor_hooks

        two_factor = TwoFactorPages(site, mfa)
        hooks = two_factor_hooks(two_factor)
        two_factor.add_sign_in_code(router)
        two_factor.add_reauthenticate(router)
        add_two_factor_pages(router, two_factor)
    email_hooks = NO_EMAIL_CHANGE
    if email_sign_in is not None:  # issue 20: imported only when on
        from fastapi_userkit.pages._email_sign_in import EmailSignInPages

        EmailSignInPages(site, email_sign_in, hooks).add(router)
    if email_change is not None:
        from fastapi_userkit.pages._email_change import EmailChangePages

        change_pages = EmailChangePages(site, email_change, email_change_fresh_within)
        change_pages.add(router)
        email_hooks = change_pages.hooks()
    passkey_hooks = NO_PASSKEYS
    if get_passkey_service is not None:  # issue 19: imported only when on (the ``passkeys`` extra)
        from fastapi_userkit.pages._passkeys import PasskeyPages, add_passkey_pages, add_second_step

        passkey_pages = PasskeyPages(site, get_passkey_service, hooks)
        sign_up = passkey_sign_up and not hide_existing_users
        passkey_hooks = add_passkey_pages(router, passkey_pages, confirm_page=mfa is None, sign_up=sign_up)
        if two_factor is not None:  # "Use a passkey" on the second step of a password sign-in
            add_second_step(router, passkey_pages, two_factor.code_page)
    add_public_pages(router, site, hooks)
    add_account_pages(router, site, hooks, email_hooks, passkeys=passkey_hooks)
    return router
