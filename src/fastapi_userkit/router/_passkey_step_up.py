"""Passkeys as the stronger proof: a password login's second step, and re-authentication (issue 19, item 4).

Added by :func:`fastapi_userkit.router.passkeys.get_passkeys_router` to its router:
:func:`add_second_step_routes` (with two-factor login on) lets a passkey answer a password login's
``202 MFA_REQUIRED``; :func:`add_reauthenticate_routes` lets it satisfy ``aal=2`` and
``fresh_within`` step-up. The flows are in :mod:`fastapi_userkit.passkeys.accounts`.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at run time,
# and they name dependencies local to the functions below.
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from pydantic import BaseModel

from fastapi_userkit._services.sign_in import SecondStep
from fastapi_userkit.authentication import AuthenticationBackend, Authenticator, Strategy
from fastapi_userkit.authentication.reauthentication import Reauthentication, SessionEnded
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.passkeys import accounts
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.router._passkey_account import TOKEN_FIELD, PasskeyCredentialRequest, Wiring
from fastapi_userkit.router.common import openapi_errors, translate
from fastapi_userkit.security.ratelimit.limiter import FlowGuard
from fastapi_userkit.types import DependencyCallable

__all__ = [
    "PasskeyChallengeOptionsRequest",
    "PasskeyChallengeRequest",
    "add_reauthenticate_routes",
    "add_second_step_routes",
]


class PasskeyChallengeOptionsRequest(BaseModel):
    """The ``challenge_token`` of a password login's ``202 MFA_REQUIRED``."""

    challenge_token: Annotated[str, TOKEN_FIELD]


class PasskeyChallengeRequest(BaseModel):
    """A passkey answering a password login's ``202 MFA_REQUIRED``."""

    challenge_token: Annotated[str, TOKEN_FIELD]
    credential: dict[str, Any]


def add_second_step_routes(wired: Wiring, get_second_step: DependencyCallable[SecondStep]) -> None:
    """Add ``POST /passkeys/mfa/options`` and ``POST /passkeys/mfa``: a passkey answers a login's ``202``.

    Args:
        wired: The router's wiring.
        get_second_step: The two-factor login's second-step dependency.
    """
    router, sign_in, backend = wired.router, wired.sign_in, wired.backend
    get_user_manager, get_passkey_service = wired.get_user_manager, wired.get_passkey_service
    guard_flows = sign_in.guard.error_flows()

    @router.post(
        "/passkeys/mfa/options",
        name=f"passkeys:{backend.name}.mfa_options",
        responses=openapi_errors("mfa-challenge", "passkey"),
    )
    async def second_step_options(
        response: Response,
        body: PasskeyChallengeOptionsRequest,
        user_manager: Annotated[BaseUserManager[Any, Any], Depends(get_user_manager)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
        second_step: Annotated[SecondStep, Depends(get_second_step)],
    ) -> dict[str, Any]:
        """Request options for the challenge's user's passkeys, bound to the challenge (counts one attempt)."""
        with translate("mfa-challenge", "passkey"):
            options = await accounts.second_step_options(
                service, sign_in, user_manager, second_step, body.challenge_token
            )
        response.headers["Cache-Control"] = "no-store"
        return options

    @router.post(
        "/passkeys/mfa",
        name=f"passkeys:{backend.name}.mfa",
        status_code=wired.login_status,
        responses={
            **openapi_errors("mfa-challenge", "passkey", *guard_flows, *wired.csrf_flows),
            **wired.login_success,
        },
    )
    async def complete_second_step(
        request: Request,
        body: PasskeyChallengeRequest,
        user_manager: Annotated[BaseUserManager[Any, Any], Depends(get_user_manager)],
        strategy: Annotated[Strategy[Any, Any], Depends(backend.strategy_dependency)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
        second_step: Annotated[SecondStep, Depends(get_second_step)],
    ) -> Response:
        """Complete the password login with a passkey: the backend's login answer at AAL2."""
        wired.check_origin(request)
        with translate("mfa-challenge", "passkey"):
            response = await accounts.complete_second_step(
                service, sign_in, request, user_manager, strategy, second_step, body.challenge_token, body.credential
            )
        return wired.set_csrf_cookie(response)


def add_reauthenticate_routes(
    wired: Wiring, authenticator: Authenticator[Any, Any], guard: FlowGuard, *, requires_verification: bool
) -> None:
    """Add ``POST /passkeys/reauthenticate/options`` and ``POST /passkeys/reauthenticate`` (step-up).

    Args:
        wired: The router's wiring.
        authenticator: Resolves the current user and token (of this backend only).
        guard: The login flow's rate-limit guard (a refused passkey counts as a failed login).
        requires_verification: Refuse unverified users (``403``).
    """
    router, backend = wired.router, wired.backend
    get_user_manager, get_passkey_service = wired.get_user_manager, wired.get_passkey_service
    reauthentication: Reauthentication[Any, Any] = Reauthentication(backend, guard)

    async def this_backend() -> Sequence[AuthenticationBackend[Any, Any]]:
        return [backend]

    get_current_user_token = authenticator.current_user_token(
        active=True, verified=requires_verification, get_enabled_backends=this_backend
    )
    auth_errors: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        auth_errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]

    @router.post(
        "/passkeys/reauthenticate/options",
        name=f"passkeys:{backend.name}.reauthenticate_options",
        responses=openapi_errors("passkey", extra=auth_errors),
    )
    async def reauthenticate_options(
        response: Response,
        user_token: Annotated[tuple[Any, str], Depends(get_current_user_token)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> dict[str, Any]:
        """Request options for the current user's passkeys (bound to the user)."""
        with translate("passkey"):
            options = await accounts.reauthentication_options(service, user_token[0])
        response.headers["Cache-Control"] = "no-store"
        return options

    @router.post(
        "/passkeys/reauthenticate",
        name=f"passkeys:{backend.name}.reauthenticate",
        status_code=wired.login_status,
        responses={
            **openapi_errors("passkey", *guard.error_flows(), *wired.csrf_flows, extra=auth_errors),
            **wired.login_success,
        },
    )
    async def reauthenticate(
        request: Request,
        body: PasskeyCredentialRequest,
        user_token: Annotated[tuple[Any, str], Depends(get_current_user_token)],
        user_manager: Annotated[BaseUserManager[Any, Any], Depends(get_user_manager)],
        strategy: Annotated[Strategy[Any, Any], Depends(backend.strategy_dependency)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> Response:
        """Prove a passkey again: a fresh token of the same session (AAL2 with user verification, now)."""
        wired.check_origin(request)
        user, token = user_token
        with translate("passkey"):
            try:
                response, _ = await accounts.reauthenticate(
                    service, reauthentication, request, user_manager, strategy, user, token, body.credential
                )
            except SessionEnded as exc:  # ended by a concurrent logout: as the authenticator answers
                raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED) from exc
        return wired.set_csrf_cookie(response)
