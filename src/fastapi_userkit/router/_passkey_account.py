"""The passkey routes beyond the ceremonies of one user's own passkeys (issue 19, items 4 and 5).

Added by :func:`fastapi_userkit.router.passkeys.get_passkeys_router` to its router:

* passwordless sign-up (:func:`add_signup_routes`, when the app gives its create schema);
* a passkey answering a password login's ``202 MFA_REQUIRED``, and re-authentication with a
  passkey (:mod:`fastapi_userkit.router._passkey_step_up`);
* removing the password, or setting a first one (:func:`add_password_routes`).

The flows themselves are in :mod:`fastapi_userkit.passkeys.accounts`, shared with the pages.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at run time,
# and they name dependencies local to the functions below.
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response, status
from pydantic import BaseModel, Field, SecretStr

from fastapi_userkit import exceptions, schemas
from fastapi_userkit._services.sign_in import SecondStep, SignIn
from fastapi_userkit.authentication import AuthenticationBackend, Strategy
from fastapi_userkit.authentication.assurance import AAL1, AAL2, Assurance
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.openapi import OpenAPIResponseType
from fastapi_userkit.passkeys import accounts
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.passkeys.tables import NAME_MAX_LENGTH
from fastapi_userkit.router.common import Flow, openapi_errors, translate
from fastapi_userkit.security.csrf import CSRFProtection
from fastapi_userkit.security.ratelimit.limiter import FlowGuard
from fastapi_userkit.types import DependencyCallable

__all__ = [
    "TOKEN_FIELD",
    "PasskeyCredentialRequest",
    "PasskeyLoginRequest",
    "PasskeySignUpRequest",
    "SetPasswordRequest",
    "Wiring",
    "add_login_routes",
    "add_password_routes",
    "add_signup_routes",
]

TOKEN_FIELD = Field(min_length=1, max_length=128)


class PasskeyCredentialRequest(BaseModel):
    """The browser's answer to request options: ``{"credential": PublicKeyCredential.toJSON()}``."""

    credential: dict[str, Any]


class PasskeyLoginRequest(BaseModel):
    """The answer to sign-in options: the browser's assertion."""

    credential: dict[str, Any]


class PasskeySignUpRequest(BaseModel):
    """The answer to sign-up options: the new credential, and a name for it."""

    credential: dict[str, Any]
    name: Annotated[str | None, Field(max_length=NAME_MAX_LENGTH)] = None


class SetPasswordRequest(BaseModel):
    """A first password for an account without one."""

    password: SecretStr


class Wiring:
    """What every route of the module needs, gathered once by ``get_passkeys_router``."""

    def __init__(
        self,
        router: APIRouter,
        backend: AuthenticationBackend[Any, Any],
        get_user_manager: UserManagerDependency[Any, Any],
        get_passkey_service: DependencyCallable[PasskeyService],
        sign_in: SignIn[Any, Any],
        csrf: CSRFProtection | None,
        login_success: OpenAPIResponseType,
    ) -> None:
        self.router = router
        self.backend = backend
        self.get_user_manager = get_user_manager
        self.get_passkey_service = get_passkey_service
        self.sign_in = sign_in
        self.csrf = csrf
        self.login_success = login_success
        self.login_status = min(
            (int(code) for code in login_success if 200 <= int(code) < 300), default=status.HTTP_200_OK
        )
        self.csrf_flows: tuple[Flow, ...] = ("csrf-origin",) if csrf is not None else ()

    def check_origin(self, request: Request) -> None:
        """The login CSRF check of a cookie backend (every route here answers with a login)."""
        if self.csrf is not None:
            with translate():
                self.csrf.check_origin(request)

    def set_csrf_cookie(self, response: Response) -> Response:
        """The new CSRF cookie of a cookie backend's login answer."""
        if self.csrf is not None:
            self.csrf.set_token_cookie(response, self.backend.transport)
        return response


def wiring(
    router: APIRouter,
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    get_passkey_service: DependencyCallable[PasskeyService],
    sign_in: SignIn[UP, ID],
    csrf: CSRFProtection | None,
    login_success: OpenAPIResponseType,
) -> Wiring:
    """Gather what the routes of this module need."""
    return Wiring(router, backend, get_user_manager, get_passkey_service, sign_in, csrf, login_success)


def add_login_routes(
    wired: Wiring,
    get_second_step: DependencyCallable[SecondStep | None],
    challenge_responses: OpenAPIResponseType,
    *,
    requires_verification: bool,
) -> None:
    """Add ``POST /passkeys/login/options`` and ``POST /passkeys/login`` (usernameless sign-in).

    Args:
        wired: The router's wiring.
        get_second_step: The second-step dependency (giving ``None`` without two-factor login).
        challenge_responses: The ``202`` challenge for OpenAPI (none without two-factor login).
        requires_verification: The backend signs in verified users only.
    """
    router, sign_in, backend = wired.router, wired.sign_in, wired.backend
    get_user_manager, get_passkey_service = wired.get_user_manager, wired.get_passkey_service
    login_guard = sign_in.guard
    verified_flows: tuple[Flow, ...] = ("login-verified",) if requires_verification else ()

    @router.post("/passkeys/login/options", name=f"passkeys:{backend.name}.login_options")
    async def login_options(
        response: Response, service: Annotated[PasskeyService, Depends(get_passkey_service)]
    ) -> dict[str, Any]:
        """Options for a usernameless ``navigator.credentials.get()`` (an empty ``allowCredentials``)."""
        response.headers["Cache-Control"] = "no-store"
        return await service.authentication_options()

    @router.post(
        "/passkeys/login",
        name=f"passkeys:{backend.name}.login",
        status_code=wired.login_status,
        responses={
            **openapi_errors("passkey", "login", *verified_flows, *login_guard.error_flows(), *wired.csrf_flows),
            **wired.login_success,
            **challenge_responses,
        },
    )
    async def login(
        request: Request,
        body: PasskeyLoginRequest,
        user_manager: Annotated[BaseUserManager[Any, Any], Depends(get_user_manager)],
        strategy: Annotated[Strategy[Any, Any], Depends(backend.strategy_dependency)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> Response:
        """Sign in with a passkey, no e-mail typed: the backend's login answer (token, cookie, session)."""
        wired.check_origin(request)
        with translate("passkey", "login", "login-verified"):
            async with login_guard.attempt(request, user_manager) as attempt:
                user, assurance = await _passkey_user(request, user_manager, service, body.credential, backend.name)
                attempt.mark_succeeded()
            if requires_verification and not user.is_verified:
                raise exceptions.UserNotVerified
            if assurance.aal < AAL2:
                # Without user verification a passkey is one factor (something you have, NIST SP
                # 800-63B 5.1.8): a user with a second factor answers its challenge first, as
                # after a password or an e-mailed link (issue 18).
                challenge = await sign_in.challenge(request, user_manager, user, second_step)
                if challenge is not None:
                    return challenge
            # The sign-in completes through the one sign-in service (issue 18's SignIn.complete):
            # a passkey with user verification is two factors in one, so the token carries AAL2.
            response = await sign_in.complete(request, user_manager, strategy, user, assurance=assurance)
        return wired.set_csrf_cookie(response)


async def _passkey_user(
    request: Request,
    user_manager: BaseUserManager[Any, Any],
    service: PasskeyService,
    credential: dict[str, Any],
    backend_name: str,
) -> tuple[Any, Assurance]:
    """Verify a usernameless assertion; return the active user it signs in and the sign-in's assurance.

    A refused assertion is a failed login (T47); a counter regression names its reason and is
    a security event of its own, so the application's audit trail shows a possible clone.

    Raises:
        PasskeyException: The assertion is refused (see :meth:`PasskeyService.verify_authentication`).
        InvalidCredentials: The passkey's user is gone or deactivated.
    """
    result = await accounts.verify_sign_in(service, user_manager, request, credential, backend_name=backend_name)
    try:
        user = await user_manager.get(result.user_id)
    except exceptions.UserNotExists as exc:  # deleted while the ceremony ran
        raise exceptions.InvalidCredentials from exc
    if not user.is_active:
        raise exceptions.InvalidCredentials
    return user, Assurance.now(AAL2 if result.user_verified else AAL1)


def add_signup_routes(
    wired: Wiring, user_create_schema: type[schemas.BaseUserCreate], guard: FlowGuard, *, verified_only: bool
) -> None:
    """Add ``POST /passkeys/signup/options`` and ``POST /passkeys/signup`` (passwordless sign-up).

    Args:
        wired: The router's wiring.
        user_create_schema: The app's create schema; its fields but the password are asked.
        guard: The registration flow's rate-limit guard.
        verified_only: The backend signs in verified users only: the account is created, and the
            answer is ``400 LOGIN_USER_NOT_VERIFIED`` until the address is verified.
    """
    router = wired.router
    fields_model = accounts.signup_fields_model(user_create_schema)
    get_user_manager, get_passkey_service, backend = wired.get_user_manager, wired.get_passkey_service, wired.backend

    @router.post(
        "/passkeys/signup/options",
        name="passkeys:signup_options",
        responses=openapi_errors("passkey-signup", "register", *guard.error_flows()),
    )
    async def signup_options(
        request: Request,
        response: Response,
        fields: fields_model,  # type: ignore[valid-type]  # the app's schema, known at wiring time
        user_manager: Annotated[BaseUserManager[Any, Any], Depends(get_user_manager)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> dict[str, Any]:
        """Creation options of a new account with a passkey and no password (the fields wait server side)."""
        with translate("passkey-signup", "register"):
            account: schemas.BaseUserCreate = fields
            async with guard.attempt(request, user_manager, account.email):
                options = await accounts.begin_signup(service, user_manager, account)
        response.headers["Cache-Control"] = "no-store"
        return options

    verified_flows: tuple[Flow, ...] = ("login-verified",) if verified_only else ()

    @router.post(
        "/passkeys/signup",
        name=f"passkeys:{backend.name}.signup",
        status_code=wired.login_status,
        responses={
            **openapi_errors("passkey", "register", *verified_flows, *guard.error_flows(), *wired.csrf_flows),
            **wired.login_success,
        },
    )
    async def signup(
        request: Request,
        body: PasskeySignUpRequest,
        user_manager: Annotated[BaseUserManager[Any, Any], Depends(get_user_manager)],
        strategy: Annotated[Strategy[Any, Any], Depends(backend.strategy_dependency)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> Response:
        """Create the account with its passkey and sign it in (the backend's login answer; AAL2 with UV)."""
        wired.check_origin(request)
        with translate("passkey", "register", "login-verified"):
            async with guard.attempt(request, user_manager):
                user, _, assurance = await accounts.complete_signup(
                    service, user_manager, user_create_schema, body.credential, request, name=body.name
                )
            if verified_only and not user.is_verified:
                raise exceptions.UserNotVerified
            response = await wired.sign_in.complete(request, user_manager, strategy, user, assurance=assurance)
        return wired.set_csrf_cookie(response)


def add_password_routes(
    wired: Wiring,
    current_user: DependencyCallable[Any],
    fresh_aal2_user: DependencyCallable[Any],
    *,
    auth_errors: dict[int, list[Any]],
    step_up: tuple[Flow, ...],
) -> None:
    """Add ``PUT /passkeys/password`` (a first password) and ``DELETE /passkeys/password``.

    Args:
        wired: The router's wiring.
        current_user: The current user, signed in recently (the router's ``fresh_within``; with
            ``mfa``, a user with a factor with a recent two-factor sign-in).
        fresh_aal2_user: The current user, signed in recently with two factors (a passkey with
            user verification, or password and code).
        auth_errors: The authenticator's answers, for OpenAPI.
        step_up: The step-up flow when a freshness or level is asked.
    """
    router = wired.router
    get_user_manager, get_passkey_service = wired.get_user_manager, wired.get_passkey_service

    @router.put(
        "/passkeys/password",
        name="passkeys:set_password",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=openapi_errors("passkey-account", "update", *step_up, extra=auth_errors),
    )
    async def set_password(
        request: Request,
        body: Annotated[SetPasswordRequest, Body()],
        user: Annotated[Any, Depends(current_user)],
        user_manager: Annotated[BaseUserManager[Any, Any], Depends(get_user_manager)],
    ) -> None:
        """Give an account without a password (a passkey or OAuth sign-up) a first one; its sessions end."""
        with translate("passkey-account", "update"):
            await accounts.set_first_password(user_manager, user, body.password.get_secret_value(), request)

    @router.delete(
        "/passkeys/password",
        name="passkeys:remove_password",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=openapi_errors("passkey-account", "step-up", extra=auth_errors),
    )
    async def remove_password(
        request: Request,
        user: Annotated[Any, Depends(fresh_aal2_user)],
        user_manager: Annotated[BaseUserManager[Any, Any], Depends(get_user_manager)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> None:
        """Remove the password (refused when it is the last way in); the user's sessions end."""
        with translate("passkey-account"):
            await accounts.remove_password(service, user_manager, user, request)
