"""Two-factor routes (issue 18): the login's second step, and the user's factors.

``POST {auth prefix}/mfa`` (added to each backend's auth router when ``FastAPIUsers(mfa=...)``
is set) answers the ``202 MFA_REQUIRED`` challenge of ``POST /login``: ``{"challenge_token",
"code"}`` with a TOTP code or a recovery code. A right code gets that backend's normal login
answer (token, cookie, refresh session); a wrong one ``400 MFA_INVALID_CODE``, a replayed TOTP
code ``400 MFA_CODE_REPLAYED`` (and a security event), an unknown, expired, spent or exhausted
challenge ``400 MFA_CHALLENGE_INVALID``. Wrong codes count as failed logins of the account.

:func:`get_mfa_router` (mount it under ``/users``) gives the user's own factors:

=========================================  ===============================================
``GET /me/mfa``                            factors and recovery codes left
``POST /me/mfa/totp``                      begin TOTP enrolment: secret, ``otpauth://`` URI, SVG QR
``POST /me/mfa/totp/confirm``              ``{"code"}``: activate; the recovery codes, shown once
``DELETE /me/mfa/totp``                    remove the factor and its recovery codes
``POST /me/mfa/recovery-codes``            new recovery codes (the old ones die), shown once
``DELETE /{id}/mfa``                       superuser: remove a user's factors
=========================================  ===============================================
"""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from pydantic import BaseModel, Field

from fastapi_userkit._services.sign_in import MFA_REQUIRED, SecondStep, SignIn
from fastapi_userkit.authentication import AuthenticationBackend, Authenticator, Strategy
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.mfa.service import MFAMethod, MFAService
from fastapi_userkit.mfa.settings import MFA
from fastapi_userkit.models import ID, UP
from fastapi_userkit.openapi import OpenAPIResponseType
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router._sensitive import require_fresh_enrolment, require_fresh_second_factor
from fastapi_userkit.router.common import Flow, openapi_errors, translate
from fastapi_userkit.security.csrf import CSRFProtection
from fastapi_userkit.security.events import SecurityEventType

__all__ = [
    "MFAChallengeAnswer",
    "MFAChallengeRequest",
    "MFACodeRequest",
    "MFAStatusRead",
    "RecoveryCodesRead",
    "TOTPEnrolmentRead",
    "add_challenge_route",
    "challenge_openapi",
    "get_mfa_router",
]

# Bounds on what a client may send: a code is 6 digits or an 11-character recovery code (some
# room for spaces); a challenge token is 43 characters. Anything longer is a 422, not work.
_CODE = Field(min_length=1, max_length=64)


class MFAChallengeAnswer(BaseModel):
    """The ``202`` body of a login that needs a second step."""

    detail: str = MFA_REQUIRED
    challenge_token: str
    methods: list[MFAMethod]


class MFAChallengeRequest(BaseModel):
    """The body of ``POST {auth prefix}/mfa``."""

    challenge_token: Annotated[str, Field(min_length=1, max_length=128)]
    code: Annotated[str, _CODE]


class MFACodeRequest(BaseModel):
    """A TOTP code (confirming an enrolment)."""

    code: Annotated[str, _CODE]


class MFAStatusRead(BaseModel):
    """A user's second factors."""

    enabled: bool
    methods: list[MFAMethod]
    recovery_codes_left: int
    enrolment_pending: bool


class TOTPEnrolmentRead(BaseModel):
    """A begun TOTP enrolment: shown once, never again."""

    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodesRead(BaseModel):
    """Recovery codes: shown once; only their digests are kept."""

    recovery_codes: list[str]


def challenge_openapi() -> OpenAPIResponseType:
    """The ``202`` a login route answers when a second step is needed (for its OpenAPI ``responses``)."""
    return {
        status.HTTP_202_ACCEPTED: {
            "model": MFAChallengeAnswer,
            "description": "The password is right and the user has a second factor: answer the "
            "challenge at POST {auth prefix}/mfa within its lifetime.",
        }
    }


def add_challenge_route(
    router: APIRouter,
    backend: AuthenticationBackend[UP, ID],
    get_user_manager: UserManagerDependency[UP, ID],
    sign_in: SignIn[UP, ID],
    mfa: MFA,
    *,
    csrf: CSRFProtection | None = None,
    success: OpenAPIResponseType | None = None,
) -> None:
    """Add ``POST /mfa`` (route name ``auth:{name}.mfa``) to a backend's auth router.

    Args:
        router: The backend's auth router.
        backend: The backend whose login issued the challenge.
        get_user_manager: The user-manager dependency.
        sign_in: The backend's sign-in service (its rate-limit guard counts wrong codes).
        mfa: The application's two-factor settings.
        csrf: For a cookie backend, the login CSRF checks.
        success: The backend's login success responses, for OpenAPI.
    """
    get_second_step = mfa.second_step_dependency()
    error_flows = (*sign_in.guard.error_flows(), *(("csrf-origin",) if csrf is not None else ()))
    success = success if success is not None else backend.transport.get_openapi_login_responses_success()
    success_status = min(
        (int(code) for code in success if 200 <= int(code) < 300),
        default=status.HTTP_200_OK,
    )

    @router.post(
        "/mfa",
        name=f"auth:{backend.name}.mfa",
        status_code=success_status,
        responses={**openapi_errors("mfa-challenge", *error_flows), **success},
    )
    async def answer_challenge(
        request: Request,
        body: MFAChallengeRequest,
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        strategy: Annotated[Strategy[UP, ID], Depends(backend.strategy_dependency)],
        second_step: Annotated[SecondStep, Depends(get_second_step)],
    ) -> Response:
        """Complete a login with the second factor's code (the backend's login answer)."""
        if csrf is not None:
            csrf.check_origin(request)
        with translate("mfa-challenge"):
            response = await sign_in.complete_challenge(
                request, user_manager, strategy, second_step, body.challenge_token, body.code
            )
        if csrf is not None:
            csrf.set_token_cookie(response, backend.transport)
        return response


async def _announce(
    request: Request,
    background: BackgroundTasks,
    manager: BaseUserManager[Any, Any],
    user: Any,
    event: SecurityEventType,
    change: str,
    **details: str,
) -> None:
    """Record a change of the user's factors and tell the user by e-mail (T43; ASVS 5.0 6.3.7).

    The notice is sent after the response (a slow mail server must not hold the request); the
    manager's ``mailer`` logs and swallows a delivery failure.
    """
    await manager.emit_security_event(event, request, user_id=user.id, details=details or None)
    if manager.mailer is not None:
        background.add_task(manager.mailer.send_mfa_changed, user, change)


def get_mfa_router(
    get_user_manager: UserManagerDependency[UP, ID],
    authenticator: Authenticator[UP, ID],
    mfa: MFA,
    requires_verification: bool = False,
) -> APIRouter:
    """Build the router of the user's second factors (mount it under ``/users``).

    Args:
        get_user_manager: The user-manager dependency.
        authenticator: Resolves the current user.
        mfa: The application's two-factor settings.
        requires_verification: Only verified users may use the routes.
    """
    router = APIRouter(route_class=UserkitRoute)
    get_service = mfa.service_dependency()
    get_second_step = mfa.second_step_dependency()
    current_user = authenticator.current_user(active=True, verified=requires_verification)
    current_superuser = authenticator.current_user(active=True, verified=requires_verification, superuser=True)
    auth_errors: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        auth_errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]
    superuser_errors: dict[int, list[Any]] = {**auth_errors, status.HTTP_403_FORBIDDEN: ["Forbidden"]}
    # T43: for a user with a factor, a fresh two-factor sign-in (401 insufficient_user_authentication).
    change_flows: tuple[Flow, ...] = ("mfa", "step-up")

    @router.get("/me/mfa", name="mfa:status", response_model=MFAStatusRead, responses=openapi_errors(extra=auth_errors))
    async def mfa_status(
        user: Annotated[UP, Depends(current_user)], service: Annotated[MFAService, Depends(get_service)]
    ) -> MFAStatusRead:
        """The current user's second factors and how many recovery codes are left."""
        found = await service.status(user.id)
        return MFAStatusRead(
            enabled=found.enabled,
            methods=list(found.methods),
            recovery_codes_left=found.recovery_codes_left,
            enrolment_pending=found.enrolment_pending,
        )

    @router.post(
        "/me/mfa/totp",
        name="mfa:totp_begin",
        response_model=TOTPEnrolmentRead,
        responses=openapi_errors(*change_flows, extra=auth_errors),
    )
    async def begin_totp(
        request: Request,
        response: Response,
        user: Annotated[UP, Depends(current_user)],
        service: Annotated[MFAService, Depends(get_service)],
        second_step: Annotated[SecondStep, Depends(get_second_step)],
    ) -> TOTPEnrolmentRead:
        """Begin a TOTP enrolment (replacing a pending one); the secret is shown this once."""
        # T43: a first factor too needs a recent sign-in (any level), not an hour-old session.
        await require_fresh_enrolment(request, user, second_step, mfa.step_up_within)
        with translate("mfa"):
            enrolment = await service.begin_totp(user.id, user.email)
        response.headers["Cache-Control"] = "no-store"
        return TOTPEnrolmentRead(secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg)

    @router.post(
        "/me/mfa/totp/confirm",
        name="mfa:totp_confirm",
        response_model=RecoveryCodesRead,
        responses=openapi_errors(*change_flows, extra=auth_errors),
    )
    async def confirm_totp(
        request: Request,
        background: BackgroundTasks,
        response: Response,
        body: MFACodeRequest,
        user: Annotated[UP, Depends(current_user)],
        service: Annotated[MFAService, Depends(get_service)],
        manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        second_step: Annotated[SecondStep, Depends(get_second_step)],
    ) -> RecoveryCodesRead:
        """Activate the pending factor with its first code; the recovery codes are shown this once."""
        await require_fresh_enrolment(request, user, second_step, mfa.step_up_within)
        with translate("mfa"):
            codes = await service.confirm_totp(user.id, body.code)
        await _announce(
            request, background, manager, user, SecurityEventType.MFA_ENABLED, "two-factor sign-in was turned on"
        )
        response.headers["Cache-Control"] = "no-store"
        return RecoveryCodesRead(recovery_codes=codes)

    @router.delete(
        "/me/mfa/totp",
        name="mfa:totp_disable",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=openapi_errors(*change_flows, extra=auth_errors),
    )
    async def disable_totp(
        request: Request,
        background: BackgroundTasks,
        user: Annotated[UP, Depends(current_user)],
        service: Annotated[MFAService, Depends(get_service)],
        manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        second_step: Annotated[SecondStep, Depends(get_second_step)],
    ) -> None:
        """Remove the current user's TOTP factor and recovery codes (after a fresh two-factor sign-in)."""
        await require_fresh_second_factor(request, user, second_step, mfa.step_up_within)
        with translate("mfa"):
            await service.disable(user.id)
        await _announce(
            request, background, manager, user, SecurityEventType.MFA_DISABLED, "two-factor sign-in was turned off"
        )

    @router.post(
        "/me/mfa/recovery-codes",
        name="mfa:recovery_codes",
        response_model=RecoveryCodesRead,
        responses=openapi_errors(*change_flows, extra=auth_errors),
    )
    async def regenerate_codes(
        request: Request,
        background: BackgroundTasks,
        response: Response,
        user: Annotated[UP, Depends(current_user)],
        service: Annotated[MFAService, Depends(get_service)],
        manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        second_step: Annotated[SecondStep, Depends(get_second_step)],
    ) -> RecoveryCodesRead:
        """Replace every recovery code with new ones, shown this once (after a fresh two-factor sign-in)."""
        await require_fresh_second_factor(request, user, second_step, mfa.step_up_within)
        with translate("mfa"):
            codes = await service.regenerate_recovery_codes(user.id)
        await _announce(
            request,
            background,
            manager,
            user,
            SecurityEventType.MFA_RECOVERY_CODES_REGENERATED,
            "new recovery codes were made and the old ones stopped working",
        )
        response.headers["Cache-Control"] = "no-store"
        return RecoveryCodesRead(recovery_codes=codes)

    @router.delete(
        "/{id}/mfa",
        name="mfa:reset_user",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=openapi_errors("user", "mfa", "step-up", extra=superuser_errors),
    )
    async def reset_user_mfa(
        request: Request,
        background: BackgroundTasks,
        id: str,
        superuser: Annotated[UP, Depends(current_superuser)],
        service: Annotated[MFAService, Depends(get_service)],
        manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        second_step: Annotated[SecondStep, Depends(get_second_step)],
    ) -> None:
        """Superuser: remove a user's second factors (the user signs in with the password alone)."""
        # T43 for the acting superuser: one with a factor needs their own fresh two-factor sign-in.
        await require_fresh_second_factor(request, superuser, second_step, mfa.step_up_within)
        with translate("user", "mfa"):
            user = await manager.get(manager.parse_id(id))
            await service.disable(user.id)
        await _announce(
            request,
            background,
            manager,
            user,
            SecurityEventType.MFA_DISABLED,
            "an administrator turned two-factor sign-in off",
            by="superuser",
        )

    return router
