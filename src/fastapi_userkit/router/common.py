"""Error bodies, and the single table that maps domain errors to HTTP (status, detail, headers).

Routes never build ``HTTPException`` from domain errors themselves: they run their domain call
inside ``translate(flow)``, which looks the exception up in :data:`ERRORS`. The same table
generates each route's OpenAPI ``responses``, so the schema cannot drift from what the route
really answers. The codes live in the leaf module :mod:`fastapi_userkit.error_codes` (so the
security layer can name them without importing routers); ``ErrorCode`` is re-exported here,
its FastAPI Users path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from fastapi import HTTPException, status
from pydantic import BaseModel

from fastapi_userkit import _assurance_errors as step_up_errors
from fastapi_userkit import _mfa_exceptions as mfa_errors
from fastapi_userkit import _passkey_exceptions as passkey_errors
from fastapi_userkit import exceptions
from fastapi_userkit.email_auth import exceptions as email_errors
from fastapi_userkit.error_codes import ErrorCode
from fastapi_userkit.openapi import OpenAPIResponseType

__all__ = [
    "ERRORS",
    "ErrorCode",
    "ErrorCodeReasonModel",
    "ErrorModel",
    "Flow",
    "openapi_errors",
    "translate",
]


class ErrorModel(BaseModel):
    """The body of every error: ``{"detail": ...}``."""

    detail: str | dict[str, str]


class ErrorCodeReasonModel(BaseModel):
    """A detail object with a machine code and a human reason."""

    code: str
    reason: str


Flow = Literal[
    # Answers that are the same in every flow; translate() always applies them (see _EVERY_FLOW).
    "rate-limit",
    "rate-limit-unavailable",
    "csrf-origin",
    "csrf-token",
    # The OAuth callback's own checks: state, the provider's error, the code exchange.
    "oauth-callback",
    "login",
    "login-verified",
    "register",
    "reset",
    "verify",
    "update",
    "user",
    "oauth",
    "oauth-associate",
    "oauth-unlink",
    "logout-all",
    "current-password",
    "oauth-email",
    "oauth-redirect",
    "mfa-challenge",
    "mfa",
    "step-up",
    "reauthenticate",
    "passkey",
    "passkey-manage",
    "passkey-account",
    "passkey-signup",
    "email-login",
    "email-change",
    "email-change-link",
]


_HeaderSource = Mapping[str, str] | Callable[[exceptions.FastAPIUsersException], Mapping[str, str]]
"""The headers of an answer: fixed (``{"WWW-Authenticate": "Bearer"}``) or read from the exception."""


@dataclass(frozen=True)
class _Answer:
    """What a client gets for one exception type: status, ``detail`` and headers.

    Attributes:
        status_code: The HTTP status.
        code: The ``detail`` code; ``None`` answers Starlette's plain phrase for the status
            ("Not Found", "Service Unavailable"), as a bare ``HTTPException(status)`` does.
        with_reason: Answer ``{"code", "reason"}`` with the exception's ``reason``.
        headers: Response headers, fixed or computed from the exception (``Retry-After`` from
            a rate-limit refusal, RFC 6585 section 4).
        echo: The ``detail`` read from the exception when it gives one (the OAuth provider's
            ``error`` value, as FastAPI Users answered it); otherwise the code or the phrase.
    """

    status_code: int
    code: ErrorCode | None
    with_reason: bool = False
    headers: _HeaderSource | None = None
    echo: Callable[[exceptions.FastAPIUsersException], str | None] | None = None

    def detail(self, exc: Exception) -> str | dict[str, str]:
        """The ``detail`` of the answer to ``exc``."""
        if self.echo is not None and isinstance(exc, exceptions.FastAPIUsersException):
            echoed = self.echo(exc)
            if echoed is not None:
                return echoed
        if self.code is None:
            return _plain_detail(self.status_code)
        if self.with_reason:
            return {"code": self.code.value, "reason": str(getattr(exc, "reason", exc))}
        return self.code.value

    def headers_for(self, exc: exceptions.FastAPIUsersException) -> dict[str, str] | None:
        """The response headers of the answer to ``exc`` (``None`` when it has none)."""
        if self.headers is None:
            return None
        source = self.headers(exc) if callable(self.headers) else self.headers
        return dict(source)


def _plain_detail(status_code: int) -> str:
    # The phrase Starlette puts in a bare ``HTTPException(status_code)``.
    return HTTPStatus(status_code).phrase


_400 = status.HTTP_400_BAD_REQUEST
_403 = status.HTTP_403_FORBIDDEN


def _retry_after(exc: exceptions.FastAPIUsersException) -> dict[str, str]:
    # RFC 9110 10.2.3 / RFC 6585 4: whole seconds until an attempt may succeed again.
    seconds = exc.retry_after_seconds if isinstance(exc, exceptions.RateLimited) else 1
    return {"Retry-After": str(seconds)}


def _provider_error(exc: exceptions.FastAPIUsersException) -> str | None:
    # FastAPI Users answered the provider's ``error`` parameter as the detail itself.
    return exc.error if isinstance(exc, exceptions.OAuthProviderRefused) else None


def _step_up_challenge(exc: exceptions.FastAPIUsersException) -> dict[str, str]:
    # RFC 9470 section 3: the Bearer challenge names the level (acr_values) or age (max_age) to reach.
    if isinstance(exc, step_up_errors.InsufficientUserAuthentication):
        return {"WWW-Authenticate": exc.www_authenticate()}
    return {"WWW-Authenticate": "Bearer"}  # pragma: no cover - the table maps only that class here


ERRORS: dict[Flow, dict[type[exceptions.FastAPIUsersException], _Answer]] = {
    # A rate limit reached, or an account waiting out its login delay (ASVS 5.0 6.3.1).
    "rate-limit": {
        exceptions.RateLimited: _Answer(
            status.HTTP_429_TOO_MANY_REQUESTS, ErrorCode.TOO_MANY_REQUESTS, headers=_retry_after
        ),
    },
    # The counter store failed and ``RateLimitSettings(fail_open=False)``: no attempt unthrottled.
    "rate-limit-unavailable": {
        exceptions.RateLimitStorageError: _Answer(status.HTTP_503_SERVICE_UNAVAILABLE, None),
    },
    "csrf-origin": {
        exceptions.CSRFCrossSiteRequest: _Answer(_403, ErrorCode.CSRF_CROSS_SITE_REQUEST),
    },
    "csrf-token": {
        exceptions.CSRFTokenInvalid: _Answer(_403, ErrorCode.CSRF_TOKEN_INVALID),
    },
    # The OAuth callbacks, checked in this order: the provider's answer, then the state before
    # the provider hears of the code, then the code exchange (router/_oauth_flow.py).
    "oauth-callback": {
        exceptions.OAuthProviderRefused: _Answer(_400, None, echo=_provider_error),
        exceptions.OAuthStateMalformed: _Answer(_400, ErrorCode.ACCESS_TOKEN_DECODE_ERROR),
        exceptions.OAuthStateExpired: _Answer(_400, ErrorCode.ACCESS_TOKEN_ALREADY_EXPIRED),
        # An associate flow started by another user of the browser: FastAPI Users' bare 400.
        exceptions.OAuthStateWrongUser: _Answer(_400, None),
        exceptions.OAuthStateInvalid: _Answer(_400, ErrorCode.OAUTH_INVALID_STATE),
        exceptions.OAuthCodeRejected: _Answer(_400, ErrorCode.OAUTH_INVALID_CODE),
        exceptions.OAuthProviderError: _Answer(status.HTTP_502_BAD_GATEWAY, ErrorCode.OAUTH_PROVIDER_ERROR),
    },
    "login": {
        exceptions.InvalidCredentials: _Answer(_400, ErrorCode.LOGIN_BAD_CREDENTIALS),
    },
    # Only where the backend signs in verified users only, so OpenAPI lists it only there.
    "login-verified": {
        exceptions.UserNotVerified: _Answer(_400, ErrorCode.LOGIN_USER_NOT_VERIFIED),
    },
    "register": {
        exceptions.UserAlreadyExists: _Answer(_400, ErrorCode.REGISTER_USER_ALREADY_EXISTS),
        exceptions.InvalidPasswordException: _Answer(_400, ErrorCode.REGISTER_INVALID_PASSWORD, with_reason=True),
        exceptions.InvalidUserData: _Answer(_400, ErrorCode.USER_DATA_INVALID),
    },
    "reset": {
        exceptions.InvalidResetPasswordToken: _Answer(_400, ErrorCode.RESET_PASSWORD_BAD_TOKEN),
        exceptions.UserNotExists: _Answer(_400, ErrorCode.RESET_PASSWORD_BAD_TOKEN),
        exceptions.UserInactive: _Answer(_400, ErrorCode.RESET_PASSWORD_BAD_TOKEN),
        exceptions.InvalidPasswordException: _Answer(_400, ErrorCode.RESET_PASSWORD_INVALID_PASSWORD, with_reason=True),
    },
    "verify": {
        exceptions.InvalidVerifyToken: _Answer(_400, ErrorCode.VERIFY_USER_BAD_TOKEN),
        exceptions.UserNotExists: _Answer(_400, ErrorCode.VERIFY_USER_BAD_TOKEN),
        exceptions.UserAlreadyVerified: _Answer(_400, ErrorCode.VERIFY_USER_ALREADY_VERIFIED),
    },
    "update": {
        exceptions.UserAlreadyExists: _Answer(_400, ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS),
        exceptions.InvalidPasswordException: _Answer(_400, ErrorCode.UPDATE_USER_INVALID_PASSWORD, with_reason=True),
        exceptions.InvalidUserData: _Answer(_400, ErrorCode.USER_DATA_INVALID),
    },
    "user": {
        exceptions.InvalidID: _Answer(status.HTTP_404_NOT_FOUND, None),
        exceptions.UserNotExists: _Answer(status.HTTP_404_NOT_FOUND, None),
    },
    "oauth": {
        exceptions.UserAlreadyExists: _Answer(_400, ErrorCode.OAUTH_USER_ALREADY_EXISTS),
        # A concurrent callback linked the same provider account first (unique constraint).
        exceptions.OAuthAccountAlreadyLinked: _Answer(_400, ErrorCode.OAUTH_ACCOUNT_ALREADY_LINKED),
    },
    "oauth-associate": {
        exceptions.OAuthAccountAlreadyLinked: _Answer(_400, ErrorCode.OAUTH_ACCOUNT_ALREADY_LINKED),
    },
    "oauth-unlink": {
        exceptions.OAuthAccountNotLinked: _Answer(status.HTTP_404_NOT_FOUND, ErrorCode.OAUTH_ACCOUNT_NOT_LINKED),
        exceptions.OAuthLastLoginMethod: _Answer(_400, ErrorCode.OAUTH_LAST_LOGIN_METHOD),
    },
    "logout-all": {
        exceptions.LogoutEverywhereNotSupported: _Answer(_400, ErrorCode.LOGOUT_ALL_NOT_SUPPORTED),
    },
    "current-password": {
        exceptions.CurrentPasswordRequired: _Answer(_400, ErrorCode.UPDATE_USER_CURRENT_PASSWORD_REQUIRED),
        exceptions.CurrentPasswordInvalid: _Answer(_400, ErrorCode.UPDATE_USER_CURRENT_PASSWORD_INVALID),
    },
    "oauth-email": {
        exceptions.OAuthEmailNotAvailable: _Answer(_400, ErrorCode.OAUTH_NOT_AVAILABLE_EMAIL),
    },
    "oauth-redirect": {
        exceptions.OAuthRedirectNotAllowed: _Answer(_400, ErrorCode.OAUTH_REDIRECT_NOT_ALLOWED),
    },
    # POST {auth prefix}/mfa: the second step of a login (issue 18, item 3).
    "mfa-challenge": {
        mfa_errors.MFAChallengeInvalid: _Answer(_400, ErrorCode.MFA_CHALLENGE_INVALID),
        mfa_errors.MFACodeReplayed: _Answer(_400, ErrorCode.MFA_CODE_REPLAYED),
        mfa_errors.InvalidMFACode: _Answer(_400, ErrorCode.MFA_INVALID_CODE),
    },
    # /users/me/mfa and /users/{id}/mfa: enrolment, recovery codes, removal.
    "mfa": {
        mfa_errors.InvalidMFACode: _Answer(_400, ErrorCode.MFA_INVALID_CODE),
        mfa_errors.MFANotEnabled: _Answer(_400, ErrorCode.MFA_NOT_ENABLED),
        mfa_errors.MFAAlreadyEnabled: _Answer(_400, ErrorCode.MFA_ALREADY_ENABLED),
        mfa_errors.MFAEnrolmentNotFound: _Answer(_400, ErrorCode.MFA_ENROLMENT_NOT_FOUND),
    },
    # current_user(aal=..., fresh_within=...): RFC 9470 section 3, a 401 the client can act on.
    "step-up": {
        step_up_errors.InsufficientUserAuthentication: _Answer(
            status.HTTP_401_UNAUTHORIZED, ErrorCode.INSUFFICIENT_USER_AUTHENTICATION, headers=_step_up_challenge
        ),
    },
    # POST {auth prefix}/reauthenticate (issue 18, item 4).
    "reauthenticate": {
        step_up_errors.ReauthenticationFailed: _Answer(_400, ErrorCode.REAUTHENTICATE_BAD_CREDENTIALS),
        step_up_errors.ReauthenticationCodeRequired: _Answer(_400, ErrorCode.REAUTHENTICATE_CODE_REQUIRED),
        mfa_errors.MFACodeReplayed: _Answer(_400, ErrorCode.MFA_CODE_REPLAYED),
        mfa_errors.InvalidMFACode: _Answer(_400, ErrorCode.MFA_INVALID_CODE),
    },
    # POST {auth prefix}/email-login/link and /code (issue 20).
    "email-login": {
        email_errors.EmailLinkInvalid: _Answer(_400, ErrorCode.EMAIL_LINK_INVALID),
        email_errors.EmailLinkExpired: _Answer(_400, ErrorCode.EMAIL_LINK_EXPIRED),
        email_errors.EmailLinkUsed: _Answer(_400, ErrorCode.EMAIL_LINK_USED),
        email_errors.EmailCodeInvalid: _Answer(_400, ErrorCode.EMAIL_CODE_INVALID),
        email_errors.EmailCodeAttemptsExhausted: _Answer(_400, ErrorCode.EMAIL_CODE_ATTEMPTS_EXHAUSTED),
        email_errors.EmailAddressTaken: _Answer(_400, ErrorCode.EMAIL_ADDRESS_TAKEN),
    },
    # POST /users/me/email-change (and PATCH /users/me with the confirmed change on; issue 20).
    "email-change": {
        email_errors.EmailAddressUnchanged: _Answer(_400, ErrorCode.EMAIL_CHANGE_SAME_ADDRESS),
    },
    # POST /users/email-change/confirm and /revert: the links sent to the new and the old address.
    "email-change-link": {
        email_errors.EmailLinkInvalid: _Answer(_400, ErrorCode.EMAIL_LINK_INVALID),
        email_errors.EmailLinkExpired: _Answer(_400, ErrorCode.EMAIL_LINK_EXPIRED),
        email_errors.EmailLinkUsed: _Answer(_400, ErrorCode.EMAIL_LINK_USED),
        email_errors.EmailAddressTaken: _Answer(_400, ErrorCode.EMAIL_ADDRESS_TAKEN),
    },
    # The passkey ceremonies (issue 19, T44): every refusal is the client's, a 400 with its code.
    "passkey": {
        passkey_errors.InvalidPasskeyPayload: _Answer(_400, ErrorCode.PASSKEY_INVALID_PAYLOAD),
        passkey_errors.PasskeyOriginMismatch: _Answer(_400, ErrorCode.PASSKEY_WRONG_ORIGIN),
        passkey_errors.PasskeyRPIDMismatch: _Answer(_400, ErrorCode.PASSKEY_WRONG_RP_ID),
        passkey_errors.PasskeyUserNotVerified: _Answer(_400, ErrorCode.PASSKEY_USER_NOT_VERIFIED),
        passkey_errors.PasskeyVerificationFailed: _Answer(_400, ErrorCode.PASSKEY_VERIFICATION_FAILED),
        passkey_errors.PasskeyChallengeInvalid: _Answer(_400, ErrorCode.PASSKEY_CHALLENGE_INVALID),
        passkey_errors.UnknownPasskey: _Answer(_400, ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL),
        passkey_errors.PasskeyAlreadyRegistered: _Answer(_400, ErrorCode.PASSKEY_ALREADY_REGISTERED),
        passkey_errors.PasskeyCounterRegression: _Answer(_400, ErrorCode.PASSKEY_COUNTER_REGRESSION),
        passkey_errors.PasskeyInvalidName: _Answer(_400, ErrorCode.PASSKEY_INVALID_NAME),
    },
    # Passwordless sign-up on an app whose user ids cannot be chosen in advance (not UUIDs).
    "passkey-signup": {
        passkey_errors.PasskeySignUpUnavailable: _Answer(
            status.HTTP_404_NOT_FOUND, ErrorCode.PASSKEY_SIGNUP_UNAVAILABLE
        ),
    },
    # Renaming or deleting one of the current user's passkeys.
    "passkey-manage": {
        passkey_errors.UnknownPasskey: _Answer(status.HTTP_404_NOT_FOUND, ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL),
        passkey_errors.PasskeyInvalidName: _Answer(_400, ErrorCode.PASSKEY_INVALID_NAME),
        passkey_errors.PasskeyLastLoginMethod: _Answer(_400, ErrorCode.PASSKEY_LAST_LOGIN_METHOD),
    },
    # The password of an account that signs in with passkeys: removed, or set the first time.
    "passkey-account": {
        passkey_errors.PasswordLastLoginMethod: _Answer(_400, ErrorCode.PASSWORD_LAST_LOGIN_METHOD),
        passkey_errors.PasswordAlreadySet: _Answer(_400, ErrorCode.PASSWORD_ALREADY_SET),
    },
}


_EVERY_FLOW: tuple[Flow, ...] = ("rate-limit", "rate-limit-unavailable", "csrf-origin", "csrf-token")
"""Flows whose answers do not depend on the route: a guard or a CSRF check inside any translated
block is answered the same way. OpenAPI lists them only where a route's guard or check can raise
them (``openapi_errors(*guard.error_flows())``)."""


@contextmanager
def translate(*flows: Flow) -> Iterator[None]:
    """Turn the domain errors listed for ``flows`` into ``HTTPException``; others propagate.

    The rate-limit and CSRF refusals (:data:`_EVERY_FLOW`) are translated in every block.

    Raises:
        HTTPException: The table's answer (status, detail, headers) to a listed domain error.
    """
    try:
        yield
    except exceptions.FastAPIUsersException as exc:
        for flow in (*flows, *_EVERY_FLOW):
            for klass in type(exc).__mro__:
                answer = ERRORS[flow].get(klass)
                if answer is not None:
                    raise HTTPException(
                        status_code=answer.status_code, detail=answer.detail(exc), headers=answer.headers_for(exc)
                    ) from exc
        raise


def openapi_errors(*flows: Flow, extra: dict[int, list[Any]] | None = None) -> OpenAPIResponseType:
    """OpenAPI ``responses`` for the errors ``flows`` can answer, with an example per code.

    Args:
        flows: The flows whose table entries apply (a route's own, plus its guard's
            :meth:`~fastapi_userkit.security.ratelimit.FlowGuard.error_flows` and its CSRF
            check's flows).
        extra: More ``status -> [detail example, ...]`` for answers not in the table
            (``401 Unauthorized`` from the authenticator, for instance).
    """
    examples: dict[int, dict[str, Any]] = {}
    for flow in flows:
        for exc_type, answer in ERRORS[flow].items():
            detail: Any = _plain_detail(answer.status_code) if answer.code is None else answer.code.value
            if answer.with_reason:
                detail = {"code": answer.code, "reason": exc_type.default_message}
            key = answer.code.value if answer.code is not None else detail
            examples.setdefault(answer.status_code, {})[str(key)] = detail
    for status_code, details in (extra or {}).items():
        for detail in details:
            examples.setdefault(status_code, {})[str(detail)] = detail
    responses: OpenAPIResponseType = {}
    for status_code, by_key in sorted(examples.items()):
        responses[status_code] = {
            "model": ErrorModel,
            "content": {
                "application/json": {
                    "examples": {key: {"summary": key, "value": {"detail": detail}} for key, detail in by_key.items()}
                }
            },
        }
    return responses
