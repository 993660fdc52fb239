"""The account flows of passkeys, written once for the JSON routes and the account pages (issue 19).

:class:`~fastapi_userkit.passkeys.PasskeyService` runs the WebAuthn ceremonies and knows nothing
of users; the functions here join it to the user manager, the registration service and the
sign-in service, so a route and a page run the same sequence:

* passwordless sign-up: :func:`signup_fields_model`, :func:`begin_signup`, :func:`complete_signup`
  (the caller then signs the user in with :meth:`SignIn.complete`);
* a passkey as the second step of a password login's ``202`` challenge:
  :func:`second_step_options`, :func:`complete_second_step`;
* re-authentication (step-up) with a passkey: :func:`reauthentication_options`, :func:`reauthenticate`;
* the last way in (item 5): :func:`delete_passkey`, :func:`remove_password`, :func:`set_first_password`;
* the notice and the security event of a change: :func:`announce`.

Every function raises typed errors (the passkey subtree, ``UserAlreadyExists``, the two-factor
ones); callers map them through the one error table.
"""

from __future__ import annotations

import functools
import logging
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import Response
from pydantic import create_model
from pydantic.json_schema import SkipJsonSchema
from starlette.requests import Request

from fastapi_userkit import exceptions, schemas
from fastapi_userkit._passkey_exceptions import (
    PasskeyCounterRegression,
    PasskeyException,
    PasskeySignUpUnavailable,
)
from fastapi_userkit._services.registration import register_passwordless
from fastapi_userkit._services.sign_in import SecondStep, SignIn
from fastapi_userkit.authentication.assurance import AAL1, AAL2, Assurance
from fastapi_userkit.authentication.reauthentication import Reauthentication
from fastapi_userkit.authentication.strategy import Strategy
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.passkeys._ceremony import CredentialJSON
from fastapi_userkit.passkeys._ways_in import (
    PasskeyChange,
    announce,
    delete_passkey,
    emit_passkey_event,
    remove_password,
    set_first_password,
)
from fastapi_userkit.passkeys.models import PasskeySignIn
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.passkeys.store import PasskeyCredential
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType

if TYPE_CHECKING:
    from fastapi_userkit.security.ratelimit.limiter import FlowGuard

_logger = logging.getLogger("fastapi_userkit.passkeys")

__all__ = [
    "PasskeyChange",
    "announce",
    "begin_signup",
    "complete_second_step",
    "complete_signup",
    "delete_passkey",
    "reauthenticate",
    "reauthentication_options",
    "remove_password",
    "second_step_options",
    "set_first_password",
    "signup_fields_model",
    "verify_sign_in",
]

# Never carried over from a sign-up's fields: what the register route drops, and the password.
_NOT_FIELDS = frozenset({"password", "id", "is_active", "is_superuser", "is_verified", "oauth_accounts"})


# -- passwordless sign-up -------------------------------------------------------------------------


@functools.cache
def signup_fields_model(user_create_schema: type[schemas.BaseUserCreate]) -> type[schemas.BaseUserCreate]:
    """The app's create schema without the password: the body of a passwordless sign-up.

    Every other field, validator and rule of the schema holds (the e-mail address normalised and
    its look-alikes refused); a ``password`` sent anyway is refused (``422``).
    """
    no_password: Any = SkipJsonSchema[None]  # type: ignore[misc]  # refused if sent, not shown in OpenAPI
    model: type[schemas.BaseUserCreate] = create_model(
        f"{user_create_schema.__name__}Passwordless",
        __base__=user_create_schema,
        __doc__="The new account's fields (the app's create schema without the password).",
        password=(no_password, None),
    )
    return model


def _require_uuid_ids(user_manager: BaseUserManager[Any, Any]) -> None:
    # The authenticator keeps the user handle chosen before the user exists (WebAuthn L3
    # 5.4.3), so the new user's id is chosen then too: a UUID. Integer ids come from the
    # database on insert and cannot be known in advance.
    try:
        user_manager.parse_id(str(uuid.uuid4()))
    except exceptions.InvalidID as exc:
        # A wiring mistake, but the client gets a 404 (the feature is not offered), not a 500.
        _logger.exception("Passkey sign-up needs UUID user ids (UUIDIDMixin): turn it off for integer ids.")
        raise PasskeySignUpUnavailable() from exc


async def begin_signup(
    service: PasskeyService, user_manager: BaseUserManager[UP, ID], fields: schemas.BaseUserCreate
) -> dict[str, Any]:
    """Creation options of a passwordless sign-up; the fields wait with the challenge, server side.

    Args:
        service: The request's passkey service.
        user_manager: The request's user manager.
        fields: The account's fields, validated by :func:`signup_fields_model` of the app's schema.

    Raises:
        UserAlreadyExists: The address has an account already (asked again when the user is created).
        PasskeySignUpUnavailable: The user manager's ids are not UUIDs (a 404 through the table).
    """
    _require_uuid_ids(user_manager)
    if await user_manager.user_db.get_by_email(fields.email) is not None:
        raise exceptions.UserAlreadyExists()
    payload = fields.model_dump_json(exclude_unset=True, exclude=set(_NOT_FIELDS))
    return await service.signup_options(payload, user_name=fields.email)


async def complete_signup(
    service: PasskeyService,
    user_manager: BaseUserManager[UP, ID],
    user_create_schema: type[schemas.BaseUserCreate],
    credential: CredentialJSON,
    request: Request | None,
    *,
    name: str | None = None,
) -> tuple[UP, PasskeyCredential, Assurance]:
    """Verify a sign-up's credential, create the user without a password and store the passkey.

    The user is created through the registration service (the ``registered`` event,
    ``on_after_register``), with the fields kept at :func:`begin_signup`, validated again by the
    app's schema. Sign the user in afterwards with :meth:`SignIn.complete` and the returned
    assurance (AAL2 when the authenticator verified the user).

    Returns:
        The new user, the passkey, and the assurance of the sign-up.

    Raises:
        PasskeyException: The credential is refused (see :meth:`PasskeyService.verify_signup`),
            or it is registered already (the user is then not created).
        UserAlreadyExists: The address got an account meanwhile.
        pydantic.ValidationError: Never for fields that passed at :func:`begin_signup`, unless
            the schema changed in between.
    """
    signup = await service.verify_signup(credential, name=name)
    fields = signup_fields_model(user_create_schema).model_validate_json(signup.fields)
    stored: list[PasskeyCredential] = []

    async def store_passkey(_user: UP) -> None:
        stored.append(await service.store_signup(signup))

    user = await register_passwordless(user_manager, fields, request, user_id=signup.user_id, then=store_passkey)
    passkey = stored[0]
    await emit_passkey_event(
        user_manager, request, SecurityEventType.PASSKEY_REGISTERED, user.id, passkey.id, passkey.name
    )
    return user, passkey, Assurance.now(AAL2 if signup.user_verified else AAL1)


# -- sign-in -------------------------------------------------------------------------------------


async def verify_sign_in(
    service: PasskeyService,
    user_manager: BaseUserManager[UP, ID],
    request: Request | None,
    credential: CredentialJSON,
    *,
    backend_name: str,
    user_id: Any = None,
    bound_to: str | None = None,
) -> PasskeySignIn:
    """Verify an assertion; a refusal is a failed login (T47), a counter regression a security event too.

    Raises:
        PasskeyException: The assertion is refused (see :meth:`PasskeyService.verify_authentication`).
    """
    try:
        return await service.verify_authentication(credential, user_id=user_id, bound_to=bound_to)
    except PasskeyException as exc:
        owner = exc.user_id if isinstance(exc, PasskeyCounterRegression) else user_id
        if isinstance(exc, PasskeyCounterRegression):
            # WebAuthn L3 6.1.1: a counter that went backwards means two copies of the key may exist.
            await user_manager.emit_security_event(
                SecurityEventType.PASSKEY_COUNTER_REGRESSION,
                request,
                user_id=owner,
                outcome=SecurityEventOutcome.FAILURE,
                details={"stored_count": str(exc.stored), "received_count": str(exc.received)},
            )
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_FAILED,
            request,
            user_id=owner,
            outcome=SecurityEventOutcome.FAILURE,
            details={"backend": backend_name, "method": "passkey", "reason": exc.code},
        )
        raise


async def second_step_options(
    service: PasskeyService,
    sign_in: SignIn[UP, ID],
    user_manager: BaseUserManager[UP, ID],
    second_step: SecondStep,
    challenge_token: str,
) -> dict[str, Any]:
    """Request options answering a password login's ``202`` challenge with one of the user's passkeys.

    ``allowCredentials`` lists the challenge's user's passkeys, and the WebAuthn challenge is
    bound to the login challenge (its digest), so it answers nothing else. The call counts as
    one attempt of the login challenge.

    Raises:
        MFAChallengeInvalid: The login challenge is unknown, expired, spent or out of attempts.
        UnknownPasskey: The challenge's user has no passkey.
    """
    from fastapi_userkit.mfa.challenge import challenge_digest

    user = await sign_in.challenge_user(user_manager, second_step, challenge_token)
    return await service.authentication_options(user.id, bound_to=challenge_digest(challenge_token))


async def complete_second_step(
    service: PasskeyService,
    sign_in: SignIn[UP, ID],
    request: Request,
    user_manager: BaseUserManager[UP, ID],
    strategy: Strategy[UP, ID],
    second_step: SecondStep,
    challenge_token: str,
    credential: CredentialJSON,
) -> Response:
    """Complete a password login's ``202`` challenge with a passkey: the backend's login answer at AAL2.

    Goes through :meth:`SignIn.complete_challenge_with`: a refused passkey counts against the
    challenge and as a failed login of the account (rate limit), and success spends the challenge.

    Raises:
        MFAChallengeInvalid: The login challenge is unknown, expired, spent or out of attempts.
        PasskeyException: The passkey is refused (not the user's, not bound to this challenge...).
        fastapi.HTTPException: ``429``/``503`` from the login rate limit.
    """
    from fastapi_userkit.mfa.challenge import challenge_digest

    bound_to = challenge_digest(challenge_token)

    async def verify(user: UP) -> None:
        await verify_sign_in(
            service,
            user_manager,
            request,
            credential,
            backend_name=sign_in.backend.name,
            user_id=user.id,
            bound_to=bound_to,
        )

    return await sign_in.complete_challenge_with(request, user_manager, strategy, second_step, challenge_token, verify)


# -- re-authentication ---------------------------------------------------------------------------


async def reauthentication_options(service: PasskeyService, user: Any) -> dict[str, Any]:
    """Request options for the current user to prove a passkey again (step-up), bound to that user.

    Raises:
        UnknownPasskey: The user has no passkey.
    """
    return await service.authentication_options(user.id)


async def reauthenticate(
    service: PasskeyService,
    reauthentication: Reauthentication[UP, ID],
    request: Request,
    user_manager: BaseUserManager[UP, ID],
    strategy: Strategy[UP, ID],
    user: UP,
    token: str,
    credential: CredentialJSON,
) -> tuple[Response, Assurance]:
    """Re-authenticate the current user with a passkey: a fresh token of the same session.

    A passkey with user verification proves AAL2 now (``current_user(aal=2)`` and
    ``fresh_within`` are satisfied); without it, AAL1 now. The session is renewed as
    ``POST /reauthenticate`` renews it. A refused passkey counts as a failed login of the
    account (the reauthentication's login rate limit).

    Raises:
        PasskeyException: The passkey is refused (another user's, a used challenge...).
        SessionEnded: The token's session ended meanwhile.
        fastapi.HTTPException: ``429``/``503`` from the login rate limit.
    """
    guard: FlowGuard = reauthentication.guard
    user_id = user.id
    async with guard.attempt(request, user_manager, user.email) as attempt:
        result = await verify_sign_in(
            service, user_manager, request, credential, backend_name=reauthentication.backend.name, user_id=user_id
        )
        attempt.mark_succeeded()
    assurance = Assurance.now(AAL2 if result.user_verified else AAL1, clock=reauthentication.clock)
    response = await reauthentication.renew(request, strategy, user, token, assurance)
    await user_manager.emit_security_event(
        SecurityEventType.LOGIN_SUCCEEDED,
        request,
        user_id=user_id,
        details={
            "backend": reauthentication.backend.name,
            "method": "passkey_reauthenticate",
            "aal": str(assurance.aal),
        },
    )
    return response, assurance
