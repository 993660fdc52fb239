"""The composition root: wires the manager dependency and backends into routers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal

from fastapi import APIRouter
from pydantic import SecretStr

from fastapi_userkit import schemas
from fastapi_userkit.authentication import AuthenticationBackend, Authenticator
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.jwt import SecretType
from fastapi_userkit.manager import UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router import (
    get_auth_router,
    get_register_router,
    get_reset_password_router,
    get_security_events_router,
    get_users_router,
    get_verify_router,
)
from fastapi_userkit.security.settings import SecuritySettings
from fastapi_userkit.types import DependencyCallable

if TYPE_CHECKING:  # httpx-oauth is the optional ``oauth`` extra, and the two-factor package needs ``mfa``
    from httpx_oauth.oauth2 import BaseOAuth2

    from fastapi_userkit.email_auth import EmailChangeService, EmailSignInService
    from fastapi_userkit.mfa.settings import MFA
    from fastapi_userkit.passkeys.service import PasskeyService

__all__ = ["FastAPIUsers"]

_CSRF_COOKIE_NAME = "fastapiusersoauthcsrf"


class FastAPIUsers(Generic[UP, ID]):
    """Main object: builds the routers and the ``current_user`` dependency.

    Args:
        get_user_manager: Dependency yielding the app's user manager.
        auth_backends: The authentication backends, tried in order.
        security: Every protection's settings, given once here (new in fastapi-userkit):
            rate limiting and lockout, CSRF checks of cookie-authenticated requests, ...
            ``None`` keeps the defaults, which are all on; see
            :class:`~fastapi_userkit.security.SecuritySettings` to tune or turn one off.
        mfa: Two-factor login (new in fastapi-userkit; ``None``: off, nothing changes). With
            it, the login of every backend (and the OAuth callback) answers a user with an active
            factor with a ``202`` challenge, and :meth:`get_mfa_router` manages the factors.
            See :class:`~fastapi_userkit.mfa.MFA`.

    Raises:
        DuplicateBackendNamesError: Two backends share a name.

    Example::

        fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])
        app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
        current_active_user = fastapi_users.current_user(active=True)
    """

    def __init__(
        self,
        get_user_manager: UserManagerDependency[UP, ID],
        auth_backends: Sequence[AuthenticationBackend[UP, ID]],
        *,
        security: SecuritySettings | None = None,
        mfa: MFA | None = None,
    ) -> None:
        self.mfa = mfa
        self.security = security if security is not None else SecuritySettings()
        self.authenticator = Authenticator(auth_backends, get_user_manager, security=self.security)
        self.get_user_manager = get_user_manager
        self.current_user = self.authenticator.current_user

    def get_register_router(
        self, user_schema: type[schemas.U], user_create_schema: type[schemas.UC], *, hide_existing_users: bool = False
    ) -> APIRouter:
        """Return the router with ``POST /register``.

        ``hide_existing_users=True`` answers a taken address like a new one and calls
        ``on_registration_conflict`` instead (opt-in enumeration protection, ASVS 5.0 6.3.8).
        """
        return get_register_router(
            self.get_user_manager,
            user_schema,
            user_create_schema,
            hide_existing_users=hide_existing_users,
            security=self.security,
        )

    def get_security_events_router(self, requires_verification: bool = False) -> APIRouter:
        """Return the router with ``GET /me/security-events`` (mount it under ``/users``; new in fastapi-userkit)."""
        return get_security_events_router(self.get_user_manager, self.authenticator, requires_verification)

    def get_pages_router(
        self,
        backend: AuthenticationBackend[UP, ID],
        *,
        secret: str | SecretStr,
        requires_verification: bool = False,
        **options: Any,
    ) -> APIRouter:
        """Return the server-rendered account pages on the cookie ``backend`` (new in fastapi-userkit).

        Sign in, sign up, sign out, forgot/reset password, verify e-mail and the account page;
        ``secret`` signs the forms' CSRF tokens. ``options`` are those of
        :func:`fastapi_userkit.pages.get_pages_router` (templates, stylesheets, schemas...).
        Needs the ``pages`` extra. With ``FastAPIUsers(mfa=...)`` the pages ask for the second
        factor too (sign-in, ``/two-factor``, "confirm it's you"; issue 18).

        Raises:
            ConfigurationError: See :func:`fastapi_userkit.pages.get_pages_router`.
        """
        from fastapi_userkit.pages import get_pages_router

        return get_pages_router(
            backend,
            self.get_user_manager,
            secret=secret,
            backends=self.authenticator.backends,
            security=self.security,
            requires_verification=requires_verification,
            # The pages' sign-in must ask for the second factor whenever the API's login does.
            **{"mfa": self.mfa, **options},
        )

    def get_sessions_router(self, requires_verification: bool = False) -> APIRouter:
        """Return the router with ``/sessions`` and ``/users/{id}/sessions`` (new in fastapi-userkit).

        See :mod:`fastapi_userkit.router.sessions`.

        Raises:
            ConfigurationError: No backend has refresh on.
        """
        from fastapi_userkit.router.sessions import get_sessions_router

        return get_sessions_router(self.get_user_manager, self.authenticator, requires_verification)

    def get_verify_router(self, user_schema: type[schemas.U]) -> APIRouter:
        """Return the router with ``POST /request-verify-token`` and ``POST /verify``."""
        return get_verify_router(self.get_user_manager, user_schema, security=self.security)

    def get_reset_password_router(self) -> APIRouter:
        """Return the router with ``POST /forgot-password`` and ``POST /reset-password``."""
        return get_reset_password_router(self.get_user_manager, security=self.security)

    def get_auth_router(self, backend: AuthenticationBackend[UP, ID], requires_verification: bool = False) -> APIRouter:
        """Return the router with ``POST /login`` and ``POST /logout`` for ``backend``."""
        return get_auth_router(
            backend,
            self.get_user_manager,
            self.authenticator,
            requires_verification,
            security=self.security,
            mfa=self.mfa,
        )

    def get_mfa_router(self, requires_verification: bool = False) -> APIRouter:
        """Return the router of the user's second factors (mount it under ``/users``; new in fastapi-userkit).

        See :mod:`fastapi_userkit.router.mfa`.

        Raises:
            ConfigurationError: ``FastAPIUsers`` was built without ``mfa``.
        """
        if self.mfa is None:
            raise ConfigurationError("get_mfa_router() needs FastAPIUsers(..., mfa=MFA(...)).")
        from fastapi_userkit.router.mfa import get_mfa_router

        return get_mfa_router(self.get_user_manager, self.authenticator, self.mfa, requires_verification)

    def get_passkeys_router(
        self,
        backend: AuthenticationBackend[UP, ID],
        get_passkey_service: DependencyCallable[PasskeyService],
        *,
        requires_verification: bool = False,
        fresh_within: int | None = 300,
        signup_schema: type[schemas.BaseUserCreate] | None = None,
    ) -> APIRouter:
        """Return the passkey (WebAuthn) JSON ceremonies on ``backend`` (mount it under its auth prefix; issue 19).

        Registration, list, rename and delete for the current user (a sign-in at most
        ``fresh_within`` seconds old), usernameless sign-in answering like ``backend``'s login,
        re-authentication with a passkey, and removing or setting a first password. With
        ``FastAPIUsers(mfa=...)`` a passkey sign-in without user verification of a user with
        a factor gets the challenge first, that user's passkey changes need a fresh
        two-factor sign-in, and a passkey can answer a password login's challenge. With
        ``signup_schema`` (the app's ``UserCreate``), passwordless sign-up is on.
        See :func:`fastapi_userkit.router.passkeys.get_passkeys_router`. Needs the ``passkeys`` extra.
        """
        from fastapi_userkit.router.passkeys import get_passkeys_router

        return get_passkeys_router(
            self.get_user_manager,
            self.authenticator,
            backend,
            get_passkey_service,
            requires_verification=requires_verification,
            fresh_within=fresh_within,
            security=self.security,
            mfa=self.mfa,
            signup_schema=signup_schema,
        )

    def get_email_login_router(
        self,
        backend: AuthenticationBackend[UP, ID],
        get_email_sign_in: DependencyCallable[EmailSignInService[UP, ID]],
    ) -> APIRouter:
        """Return ``POST /email-login`` and its link and code completions on ``backend`` (issue 20).

        Mount it under the backend's auth prefix. A completed sign-in answers like ``backend``'s
        login; with ``FastAPIUsers(mfa=...)`` a user with a factor gets the challenge first. See
        :func:`fastapi_userkit.router.email_login.get_email_login_router`.
        """
        from fastapi_userkit.router.email_login import get_email_login_router

        return get_email_login_router(
            backend, self.get_user_manager, get_email_sign_in, security=self.security, mfa=self.mfa
        )

    def get_users_router(
        self,
        user_schema: type[schemas.U],
        user_update_schema: type[schemas.UU],
        requires_verification: bool = False,
        *,
        require_current_password: bool = False,
        email_change: DependencyCallable[EmailChangeService[UP, ID]] | None = None,
        email_change_fresh_within: int = 300,
    ) -> APIRouter:
        """Return the router with ``/me`` and ``/{id}``.

        ``require_current_password`` (new, off by default): ``PATCH /me`` changes the e-mail or
        the password only with the right ``current_password`` in the body. ``email_change``
        (new, off by default): an ``email`` in ``PATCH /me`` starts the confirmed change (``202``,
        the address changes when the new address's link is used) instead of setting it at once.
        See :func:`fastapi_userkit.router.get_users_router`.
        """
        return get_users_router(
            self.get_user_manager,
            user_schema,
            user_update_schema,
            self.authenticator,
            requires_verification,
            require_current_password=require_current_password,
            security=self.security,
            mfa=self.mfa,
            email_change=email_change,
            email_change_fresh_within=email_change_fresh_within,
        )

    def get_email_change_router(
        self,
        user_schema: type[schemas.U],
        get_email_change: DependencyCallable[EmailChangeService[UP, ID]],
        *,
        requires_verification: bool = False,
        fresh_within: int = 300,
    ) -> APIRouter:
        """Return the confirmed e-mail change routes (mount them under ``/users``; issue 20).

        ``/me/email-change`` (see, ask for with a sign-in at most ``fresh_within`` seconds old,
        cancel) and ``/email-change/confirm`` and ``/email-change/revert`` (the links' tokens).
        With ``FastAPIUsers(mfa=...)`` a user with a factor needs a fresh two-factor sign-in to
        ask. See :func:`fastapi_userkit.router.email_change.get_email_change_router`.
        """
        from fastapi_userkit.router.email_change import get_email_change_router

        return get_email_change_router(
            self.get_user_manager,
            self.authenticator,
            user_schema,
            get_email_change,
            requires_verification=requires_verification,
            fresh_within=fresh_within,
            security=self.security,
            mfa=self.mfa,
        )

    def get_oauth_router(
        self,
        oauth_client: BaseOAuth2[Any],
        backend: AuthenticationBackend[UP, ID],
        state_secret: SecretType,
        redirect_url: str | None = None,
        associate_by_email: bool = False,
        is_verified_by_default: bool = False,
        *,
        csrf_token_cookie_name: str = _CSRF_COOKIE_NAME,
        csrf_token_cookie_path: str = "/",  # noqa: S107 - a cookie path, not a password
        csrf_token_cookie_domain: str | None = None,
        csrf_token_cookie_secure: bool = True,
        csrf_token_cookie_httponly: bool = True,
        csrf_token_cookie_samesite: Literal["lax", "strict", "none"] = "lax",  # noqa: S107 - not a password
        post_login_redirect_urls: Sequence[str] = (),
    ) -> APIRouter:
        """Return the OAuth login router (``/authorize``, ``/callback``) of one provider.

        See :func:`fastapi_userkit.router.oauth.get_oauth_router` for the parameters. Needs the
        ``oauth`` extra.

        Raises:
            ConfigurationError: See :func:`~fastapi_userkit.router.oauth.get_oauth_router`.
        """
        from fastapi_userkit.router.oauth import get_oauth_router

        return get_oauth_router(
            oauth_client,
            backend,
            self.get_user_manager,
            state_secret,
            redirect_url,
            associate_by_email,
            is_verified_by_default,
            csrf_token_cookie_name=csrf_token_cookie_name,
            csrf_token_cookie_path=csrf_token_cookie_path,
            csrf_token_cookie_domain=csrf_token_cookie_domain,
            csrf_token_cookie_secure=csrf_token_cookie_secure,
            csrf_token_cookie_httponly=csrf_token_cookie_httponly,
            csrf_token_cookie_samesite=csrf_token_cookie_samesite,
            post_login_redirect_urls=post_login_redirect_urls,
            mfa=self.mfa,
        )

    def get_oauth_associate_router(
        self,
        oauth_client: BaseOAuth2[Any],
        user_schema: type[schemas.U],
        state_secret: SecretType,
        redirect_url: str | None = None,
        requires_verification: bool = False,
        csrf_token_cookie_name: str = _CSRF_COOKIE_NAME,
        csrf_token_cookie_path: str = "/",  # noqa: S107 - a cookie path, not a password
        csrf_token_cookie_domain: str | None = None,
        csrf_token_cookie_secure: bool = True,
        csrf_token_cookie_httponly: bool = True,
        csrf_token_cookie_samesite: Literal["lax", "strict", "none"] = "lax",  # noqa: S107 - not a password
    ) -> APIRouter:
        """Return the account-linking router (``/authorize``, ``/callback``, ``DELETE /{account_id}``).

        See :func:`fastapi_userkit.router.oauth.get_oauth_associate_router`. Needs the ``oauth`` extra.

        Raises:
            ConfigurationError: An empty ``state_secret``.
        """
        from fastapi_userkit.router.oauth import get_oauth_associate_router

        return get_oauth_associate_router(
            oauth_client,
            self.authenticator,
            self.get_user_manager,
            user_schema,
            state_secret,
            redirect_url,
            requires_verification,
            csrf_token_cookie_name=csrf_token_cookie_name,
            csrf_token_cookie_path=csrf_token_cookie_path,
            csrf_token_cookie_domain=csrf_token_cookie_domain,
            csrf_token_cookie_secure=csrf_token_cookie_secure,
            csrf_token_cookie_httponly=csrf_token_cookie_httponly,
            csrf_token_cookie_samesite=csrf_token_cookie_samesite,
        )
