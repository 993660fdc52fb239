"""Passkey (WebAuthn) JSON ceremonies for SPAs and mobile apps (issue 19, item 7).

:func:`get_passkeys_router` gives, under the prefix the app chooses (``/auth/{backend}`` suits
the sign-in routes, which answer with that backend's login):

=============================================  =====================================================
``POST /passkeys/register/options``            current user: ``PublicKeyCredentialCreationOptionsJSON``
``POST /passkeys/register``                    current user: ``{"credential", "name"}``, the new passkey
``GET /passkeys``                              current user: their passkeys
``PATCH /passkeys/{id}``                       current user: ``{"name"}``, rename
``DELETE /passkeys/{id}``                      current user: delete
``POST /passkeys/login/options``               anyone: usernameless ``PublicKeyCredentialRequestOptionsJSON``
``POST /passkeys/login``                       anyone: ``{"credential"}``, the backend's login answer
=============================================  =====================================================

The options go to ``navigator.credentials.create()`` / ``.get()`` (after ``PublicKeyCredential.
parseCreationOptionsFromJSON`` or the base64url conversions); the credential comes back as its
``toJSON()``. Managing passkeys needs a recent sign-in (``fresh_within``, issue 19 item 3). A
passkey sign-in whose authenticator verified the user counts as AAL2 (NIST SP 800-63B 4.2.1) and
completes at once. With two-factor login (``mfa``) a passkey sign-in WITHOUT user verification is
one factor: a user with a confirmed second factor gets the same ``202 MFA_REQUIRED`` challenge
as a password login (answered at ``POST {auth prefix}/mfa``), and adding, renaming or deleting a
passkey of such a user needs a fresh two-factor sign-in (T43, ``MFA.step_up_within``), as the
other sensitive changes do.
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field

from fastapi_userkit import exceptions
from fastapi_userkit._passkey_exceptions import PasskeyCounterRegression, PasskeyException
from fastapi_userkit._services.sign_in import SecondStep, SignIn
from fastapi_userkit.authentication import AuthenticationBackend, Authenticator, Strategy
from fastapi_userkit.authentication.assurance import AAL1, AAL2, Assurance
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.passkeys.store import PasskeyCredential
from fastapi_userkit.passkeys.tables import NAME_MAX_LENGTH
from fastapi_userkit.router._refresh import login_openapi_success
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router._sensitive import require_fresh_second_factor
from fastapi_userkit.router.common import Flow, openapi_errors, translate
from fastapi_userkit.security.csrf import is_cookie_transport
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.settings import SecuritySettings
from fastapi_userkit.types import DependencyCallable

if TYPE_CHECKING:  # the two-factor package needs the ``mfa`` extra
    from fastapi_userkit.mfa.settings import MFA

__all__ = [
    "PasskeyLoginRequest",
    "PasskeyRead",
    "PasskeyRegisterRequest",
    "PasskeyRenameRequest",
    "get_passkeys_router",
]

_MANAGE_FRESH_WITHIN = 300
"""Seconds since sign-in within which a user may add, list, rename or delete passkeys by default."""


class PasskeyRead(BaseModel):
    """A registered passkey as its owner sees it (no key material)."""

    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    transports: list[str]
    backup_eligible: bool
    backed_up: bool
    aaguid: str

    @classmethod
    def of(cls, passkey: PasskeyCredential) -> "PasskeyRead":
        """The view of a stored passkey."""
        return cls(
            id=passkey.id,
            name=passkey.name,
            created_at=passkey.created_at,
            last_used_at=passkey.last_used_at,
            transports=list(passkey.transports),
            backup_eligible=passkey.backup_eligible,
            backed_up=passkey.backed_up,
            aaguid=passkey.aaguid,
        )


class PasskeyRegisterRequest(BaseModel):
    """The answer to registration options: the browser's credential, and a name for it."""

    credential: dict[str, Any]
    name: Annotated[str | None, Field(max_length=NAME_MAX_LENGTH)] = None


class PasskeyRenameRequest(BaseModel):
    """A new name for a passkey."""

    name: Annotated[str, Field(max_length=NAME_MAX_LENGTH)]


class PasskeyLoginRequest(BaseModel):
    """The answer to sign-in options: the browser's assertion."""

    credential: dict[str, Any]


async def _no_second_step() -> None:
    """The second-step dependency of an app without two-factor login: nothing."""
    return None


def _second_step_wiring(mfa: "MFA | None") -> tuple[Any, dict[int | str, dict[str, Any]]]:
    """The second-step dependency and the sign-in's ``202`` challenge for OpenAPI (none without ``mfa``)."""
    if mfa is None:
        return _no_second_step, {}
    # Imported here: the two-factor package needs the ``mfa`` extra.
    from fastapi_userkit.router.mfa import challenge_openapi

    return mfa.second_step_dependency(), dict(challenge_openapi())


def _managing_user(
    current_user: DependencyCallable[Any], get_second_step: DependencyCallable[Any], mfa: "MFA | None"
) -> DependencyCallable[Any]:
    """The current-user dependency of the passkey management routes.

    With ``mfa``, a user with a factor adds, renames or deletes a passkey only after a two-factor
    sign-in at most ``mfa.step_up_within`` seconds old (T43; the rule of ``router/_sensitive.py``):
    otherwise a one-factor session could register a new authenticator and reach AAL2 with it.
    """
    if mfa is None:
        return current_user
    step_up_within = mfa.step_up_within

    async def managing_user(
        request: Request,
        user: Annotated[Any, Depends(current_user)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> Any:
        await require_fresh_second_factor(request, user, second_step, step_up_within)
        return user

    return managing_user


def get_passkeys_router(
    get_user_manager: UserManagerDependency[UP, ID],
    authenticator: Authenticator[UP, ID],
    backend: AuthenticationBackend[UP, ID],
    get_passkey_service: DependencyCallable[PasskeyService],
    *,
    requires_verification: bool = False,
    fresh_within: int | None = _MANAGE_FRESH_WITHIN,
    security: SecuritySettings | None = None,
    mfa: "MFA | None" = None,
) -> APIRouter:
    """Build the passkey routes: registration and management for the current user, usernameless sign-in.

    Args:
        get_user_manager: The user-manager dependency.
        authenticator: Resolves the current user.
        backend: The backend a passkey sign-in issues its token (and session) through.
        get_passkey_service: A dependency giving the request's
            :class:`~fastapi_userkit.passkeys.PasskeyService`.
        requires_verification: Only verified users may use the routes or sign in.
        fresh_within: Seconds since sign-in within which the current user may register, list,
            rename or delete passkeys (``None``: any valid sign-in).
        security: Login CSRF checks for a cookie backend (``None``: the defaults).
        mfa: Two-factor login (``None``: off). A passkey sign-in without user verification of
            a user with a factor then gets the ``202`` challenge, and managing the passkeys of
            such a user needs a two-factor sign-in at most ``mfa.step_up_within`` seconds old.
    """
    router = APIRouter(route_class=UserkitRoute)
    security = security if security is not None else SecuritySettings()
    sign_in: SignIn[UP, ID] = SignIn(backend, requires_verification=requires_verification)
    csrf = security.csrf_protection() if is_cookie_transport(backend.transport) else None
    current_user = authenticator.current_user(active=True, verified=requires_verification, fresh_within=fresh_within)
    auth_errors: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        auth_errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]
    step_up = ("step-up",) if fresh_within is not None or mfa is not None else ()
    get_second_step, challenge_responses = _second_step_wiring(mfa)
    managing_user = _managing_user(current_user, get_second_step, mfa)

    @router.post(
        "/passkeys/register/options",
        name="passkeys:register_options",
        responses=openapi_errors(*step_up, extra=auth_errors),
    )
    async def registration_options(
        response: Response,
        user: Annotated[UP, Depends(managing_user)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> dict[str, Any]:
        """Options for ``navigator.credentials.create()``, with a challenge valid for the configured lifetime."""
        response.headers["Cache-Control"] = "no-store"
        return await service.registration_options(user.id, user_name=user.email)

    @router.post(
        "/passkeys/register",
        name="passkeys:register",
        status_code=status.HTTP_201_CREATED,
        response_model=PasskeyRead,
        responses=openapi_errors("passkey", *step_up, extra=auth_errors),
    )
    async def register(
        body: PasskeyRegisterRequest,
        user: Annotated[UP, Depends(managing_user)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> PasskeyRead:
        """Verify the browser's new credential and store it as the current user's passkey."""
        with translate("passkey"):
            passkey = await service.verify_registration(user.id, body.credential, name=body.name)
        return PasskeyRead.of(passkey)

    @router.get(
        "/passkeys",
        name="passkeys:list",
        response_model=list[PasskeyRead],
        responses=openapi_errors(*step_up, extra=auth_errors),
    )
    async def list_passkeys(
        user: Annotated[UP, Depends(current_user)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> list[PasskeyRead]:
        """The current user's passkeys, oldest first."""
        return [PasskeyRead.of(passkey) for passkey in await service.list_passkeys(user.id)]

    @router.patch(
        "/passkeys/{passkey_id}",
        name="passkeys:rename",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=openapi_errors("passkey-manage", *step_up, extra=auth_errors),
    )
    async def rename(
        passkey_id: uuid.UUID,
        body: PasskeyRenameRequest,
        user: Annotated[UP, Depends(managing_user)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> None:
        """Rename one of the current user's passkeys."""
        with translate("passkey-manage"):
            await service.rename(user.id, passkey_id, body.name)

    @router.delete(
        "/passkeys/{passkey_id}",
        name="passkeys:delete",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=openapi_errors("passkey-manage", *step_up, extra=auth_errors),
    )
    async def delete(
        passkey_id: uuid.UUID,
        user: Annotated[UP, Depends(managing_user)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> None:
        """Delete one of the current user's passkeys."""
        with translate("passkey-manage"):
            await service.delete(user.id, passkey_id)

    @router.post("/passkeys/login/options", name=f"passkeys:{backend.name}.login_options")
    async def login_options(
        response: Response, service: Annotated[PasskeyService, Depends(get_passkey_service)]
    ) -> dict[str, Any]:
        """Options for a usernameless ``navigator.credentials.get()`` (an empty ``allowCredentials``)."""
        response.headers["Cache-Control"] = "no-store"
        return await service.authentication_options()

    login_success = login_openapi_success(backend)
    login_status = min((int(code) for code in login_success if 200 <= int(code) < 300), default=status.HTTP_200_OK)
    login_flows: tuple[Flow, ...] = ("csrf-origin",) if csrf else ()

    @router.post(
        "/passkeys/login",
        name=f"passkeys:{backend.name}.login",
        status_code=login_status,
        responses={
            **openapi_errors("passkey", "login", *(("login-verified",) if requires_verification else ()), *login_flows),
            **login_success,
            **challenge_responses,
        },
    )
    async def login(
        request: Request,
        body: PasskeyLoginRequest,
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
        second_step: Annotated[SecondStep | None, Depends(get_second_step)],
    ) -> Response:
        """Sign in with a passkey, no e-mail typed: the backend's login answer (token, cookie, session)."""
        if csrf is not None:
            csrf.check_origin(request)
        with translate("passkey", "login", "login-verified"):
            user, assurance = await _passkey_user(request, user_manager, service, body.credential, backend.name)
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
        if csrf is not None:
            csrf.set_token_cookie(response, backend.transport)
        return response

    return router


async def _passkey_user(
    request: Request,
    user_manager: BaseUserManager[UP, ID],
    service: PasskeyService,
    credential: dict[str, Any],
    backend_name: str,
) -> tuple[UP, Assurance]:
    """Verify a usernameless assertion; return the active user it signs in and the sign-in's assurance.

    A refused assertion is a failed login (T47); a counter regression names its reason, so the
    application's audit trail shows a possible clone.

    Raises:
        PasskeyException: The assertion is refused (see :meth:`PasskeyService.verify_authentication`).
        InvalidCredentials: The passkey's user is gone or deactivated.
    """
    try:
        result = await service.verify_authentication(credential)
    except PasskeyException as exc:
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_FAILED,
            request,
            user_id=exc.user_id if isinstance(exc, PasskeyCounterRegression) else None,
            outcome=SecurityEventOutcome.FAILURE,
            details={"backend": backend_name, "method": "passkey", "reason": exc.code},
        )
        raise
    try:
        user = await user_manager.get(result.user_id)
    except exceptions.UserNotExists as exc:  # deleted while the ceremony ran
        raise exceptions.InvalidCredentials from exc
    if not user.is_active:
        raise exceptions.InvalidCredentials
    return user, Assurance.now(AAL2 if result.user_verified else AAL1)
