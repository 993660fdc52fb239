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
``POST /passkeys/signup/options``              with ``signup_schema``: the account's fields, creation options
``POST /passkeys/signup``                      with ``signup_schema``: ``{"credential", "name"}``, login answer
``POST /passkeys/mfa/options``                 with ``mfa``: ``{"challenge_token"}`` of a login's ``202``
``POST /passkeys/mfa``                         with ``mfa``: ``{"challenge_token", "credential"}``, login answer
``POST /passkeys/reauthenticate/options``      current user: request options for their passkeys
``POST /passkeys/reauthenticate``              current user: ``{"credential"}``, a fresh token (step-up)
``PUT /passkeys/password``                     current user without a password: ``{"password"}``
``DELETE /passkeys/password``                  current user, fresh AAL2: remove the password
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

Adding, renaming and deleting a passkey emit a security event and mail the user a notice (the
manager's ``mailer``). The last way to sign in is never removed: the last passkey of a user
without a usable password or a linked OAuth account stays (``400 PASSKEY_LAST_LOGIN_METHOD``),
as the password of a user without a passkey or an OAuth account (``400
PASSWORD_LAST_LOGIN_METHOD``). The sign-in, sign-up, second-step and re-authentication answers
are rate-limited like the password login (``429`` with ``Retry-After``).
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from pydantic import BaseModel, Field

from fastapi_userkit import schemas
from fastapi_userkit._services.sign_in import SecondStep, SignIn
from fastapi_userkit.authentication import AuthenticationBackend, Authenticator
from fastapi_userkit.authentication.assurance import AAL2
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.passkeys import accounts
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.passkeys.store import PasskeyCredential
from fastapi_userkit.passkeys.tables import NAME_MAX_LENGTH
from fastapi_userkit.router import _passkey_account, _passkey_step_up
from fastapi_userkit.router._passkey_account import PasskeyLoginRequest
from fastapi_userkit.router._refresh import login_openapi_success
from fastapi_userkit.router._route import UserkitRoute
from fastapi_userkit.router._sensitive import require_fresh_second_factor
from fastapi_userkit.router.common import Flow, openapi_errors, translate
from fastapi_userkit.security.csrf import is_cookie_transport
from fastapi_userkit.security.ratelimit.limiter import FlowGuard
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
    signup_schema: type[schemas.BaseUserCreate] | None = None,
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
            With it, a passkey can also answer a password login's ``202`` (``/passkeys/mfa``).
        signup_schema: The app's user create schema: turns passwordless sign-up on (its fields but
            the password are asked). ``None`` (the default): off, as registration is a router the
            app chooses to mount. Needs UUID user ids.
    """
    router = APIRouter(route_class=UserkitRoute)
    security = security if security is not None else SecuritySettings()
    login_guard = security.flow_guard("login")
    sign_in: SignIn[UP, ID] = SignIn(backend, guard=login_guard, requires_verification=requires_verification)
    csrf = security.csrf_protection() if is_cookie_transport(backend.transport) else None
    current_user = authenticator.current_user(active=True, verified=requires_verification, fresh_within=fresh_within)
    auth_errors: dict[int, list[Any]] = {status.HTTP_401_UNAUTHORIZED: ["Unauthorized"]}
    if requires_verification:
        auth_errors[status.HTTP_403_FORBIDDEN] = ["Forbidden"]
    step_up: tuple[Flow, ...] = ("step-up",) if fresh_within is not None or mfa is not None else ()
    get_second_step, challenge_responses = _second_step_wiring(mfa)
    managing_user = _managing_user(current_user, get_second_step, mfa)

    # Registered first: /passkeys/password must not be read as /passkeys/{passkey_id}.
    login_success = login_openapi_success(backend)
    wired = _passkey_account.wiring(
        router, backend, get_user_manager, get_passkey_service, sign_in, csrf, login_success
    )
    _passkey_account.add_login_routes(
        wired, get_second_step, challenge_responses, requires_verification=requires_verification
    )
    _add_account_routes(
        wired,
        authenticator,
        security,
        login_guard,
        # Setting a first password is a password change: with mfa, a user with a factor needs a
        # fresh two-factor sign-in for it (T43), as for the passkey changes.
        managing_user,
        requires_verification=requires_verification,
        fresh_within=fresh_within,
        mfa=mfa,
        signup_schema=signup_schema,
        auth_errors=auth_errors,
        step_up=step_up,
    )

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
        request: Request,
        background: BackgroundTasks,
        body: PasskeyRegisterRequest,
        user: Annotated[UP, Depends(managing_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> PasskeyRead:
        """Verify the browser's new credential and store it as the current user's passkey (the user gets a notice)."""
        with translate("passkey"):
            passkey = await service.verify_registration(user.id, body.credential, name=body.name)
        await accounts.announce(
            user_manager, request, background, user, "registered", passkey_id=passkey.id, name=passkey.name
        )
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
        request: Request,
        background: BackgroundTasks,
        passkey_id: uuid.UUID,
        body: PasskeyRenameRequest,
        user: Annotated[UP, Depends(managing_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> None:
        """Rename one of the current user's passkeys (the user gets a notice)."""
        with translate("passkey-manage"):
            name = await service.rename(user.id, passkey_id, body.name)
        await accounts.announce(user_manager, request, background, user, "renamed", passkey_id=passkey_id, name=name)

    @router.delete(
        "/passkeys/{passkey_id}",
        name="passkeys:delete",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=openapi_errors("passkey-manage", *step_up, extra=auth_errors),
    )
    async def delete(
        request: Request,
        background: BackgroundTasks,
        passkey_id: uuid.UUID,
        user: Annotated[UP, Depends(managing_user)],
        user_manager: Annotated[BaseUserManager[UP, ID], Depends(get_user_manager)],
        service: Annotated[PasskeyService, Depends(get_passkey_service)],
    ) -> None:
        """Delete one of the current user's passkeys, unless it is their last way in (the user gets a notice)."""
        with translate("passkey-manage"):
            passkey = await accounts.delete_passkey(service, user, passkey_id)
        await accounts.announce(
            user_manager, request, background, user, "deleted", passkey_id=passkey.id, name=passkey.name
        )

    return router


def _add_account_routes(
    wired: Any,
    authenticator: Authenticator[UP, ID],
    security: SecuritySettings,
    login_guard: FlowGuard,
    managing_user: DependencyCallable[Any],
    *,
    requires_verification: bool,
    fresh_within: int | None,
    mfa: "MFA | None",
    signup_schema: type[schemas.BaseUserCreate] | None,
    auth_errors: dict[int, list[Any]],
    step_up: tuple[Flow, ...],
) -> None:
    """Add sign-up (with ``signup_schema``), the second step (with ``mfa``), re-authentication, the password."""
    if signup_schema is not None:
        _passkey_account.add_signup_routes(
            wired, signup_schema, security.flow_guard("register"), verified_only=requires_verification
        )
    if mfa is not None:
        _passkey_step_up.add_second_step_routes(wired, mfa.second_step_dependency())
    _passkey_step_up.add_reauthenticate_routes(
        wired, authenticator, login_guard, requires_verification=requires_verification
    )
    # Removing the password asks a fresh two-factor sign-in (a passkey with user verification):
    # whoever removes it must hold the way in that stays.
    fresh_aal2_user = authenticator.current_user(
        active=True,
        verified=requires_verification,
        aal=AAL2,
        fresh_within=fresh_within if fresh_within is not None else _MANAGE_FRESH_WITHIN,
    )
    _passkey_account.add_password_routes(
        wired, managing_user, fresh_aal2_user, auth_errors=auth_errors, step_up=step_up
    )
