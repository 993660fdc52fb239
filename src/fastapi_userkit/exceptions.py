"""Every error fastapi-userkit raises, in one tree.

::

    FastAPIUsersException                 root; every error has ``message`` and ``code``
    ├── InvalidID                         a value cannot be parsed as a user id
    ├── UserAlreadyExists                 the e-mail (case-insensitively) belongs to a user
    ├── UserNotExists                     no user matches
    ├── UserInactive                      the user is deactivated
    ├── UserAlreadyVerified               the user's e-mail is already verified
    ├── InvalidVerifyToken                a verification token is bad, expired or stale
    ├── InvalidResetPasswordToken         a reset token is bad, expired or already used
    ├── InvalidPasswordException          the password policy refused a password (``reason``)
    ├── InvalidUserData                   the database refused a value (length, constraint)
    ├── OAuthAccountAlreadyLinked         the provider account belongs to another user
    ├── OAuthAccountNotLinked             the user has no such provider account to unlink
    ├── OAuthLastLoginMethod              unlinking would leave the user no way to log in
    ├── LogoutEverywhereNotSupported      a backend of the app cannot end every token of a user
    ├── InvalidCredentials                a sign-in failed: unknown e-mail, wrong secret or inactive user
    ├── UserNotVerified                   the right credentials, but the app requires a verified e-mail
    ├── CurrentPasswordRequired           a protected change came without the current password
    ├── CurrentPasswordInvalid            a protected change came with a wrong current password
    ├── OAuthEmailNotAvailable            the provider gave no e-mail address for the account
    ├── OAuthRedirectNotAllowed           the requested ``next`` URL is not in the allowed list
    ├── OAuthStateInvalid                 an OAuth callback's ``state`` or CSRF cookie is not valid
    │   ├── OAuthStateMalformed           the ``state`` is missing, malformed or badly signed
    │   ├── OAuthStateExpired             the ``state`` is past its lifetime
    │   └── OAuthStateWrongUser           the flow was started by another user of the browser
    ├── OAuthProviderRefused              the provider sent the callback an ``error`` (or no code)
    ├── OAuthCodeRejected                 the provider refused the authorization code
    ├── OAuthProviderError                the provider failed or answered something unexpected
    ├── RateLimited                       a rate limit is reached (``retry_after`` seconds)
    ├── RateLimitStorageError             the rate-limit counter store failed
    ├── CSRFRejected                      a cookie-authenticated request failed the CSRF checks
    │   ├── CSRFCrossSiteRequest          the browser says another site sent it
    │   └── CSRFTokenInvalid              token mode, and the token is missing or wrong
    └── ConfigurationError                the application wired the library wrongly;
                                          raised at construction, never at a request

The names are those of FastAPI Users, so ``except`` clauses written for it keep working.
Routers translate these to HTTP in a single table (:mod:`fastapi_userkit.router.common`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

__all__ = [
    "CSRFCrossSiteRequest",
    "CSRFRejected",
    "CSRFTokenInvalid",
    "ConfigurationError",
    "CurrentPasswordInvalid",
    "CurrentPasswordRequired",
    "FastAPIUserkitError",
    "FastAPIUsersException",
    "InvalidCredentials",
    "InvalidID",
    "InvalidPasswordException",
    "InvalidResetPasswordToken",
    "InvalidUserData",
    "InvalidVerifyToken",
    "LogoutEverywhereNotSupported",
    "OAuthAccountAlreadyLinked",
    "OAuthAccountNotLinked",
    "OAuthCodeRejected",
    "OAuthEmailNotAvailable",
    "OAuthLastLoginMethod",
    "OAuthProviderError",
    "OAuthProviderRefused",
    "OAuthRedirectNotAllowed",
    "OAuthStateExpired",
    "OAuthStateInvalid",
    "OAuthStateMalformed",
    "OAuthStateWrongUser",
    "RateLimitStorageError",
    "RateLimited",
    "UserAlreadyExists",
    "UserAlreadyVerified",
    "UserInactive",
    "UserNotExists",
    "UserNotVerified",
]


class FastAPIUsersException(Exception):  # noqa: N818 - the compat name is part of the contract
    """Root of every error raised by fastapi-userkit.

    Attributes:
        message: A human-readable explanation.
        code: A stable machine-readable code.
    """

    default_message: ClassVar[str] = "fastapi-userkit error"
    code: ClassVar[str] = "USERKIT_ERROR"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


FastAPIUserkitError = FastAPIUsersException
"""Alias of the root exception under this package's own name."""


class InvalidID(FastAPIUsersException):
    """A value could not be parsed as a user id."""

    default_message = "The value is not a valid user id."
    code = "INVALID_ID"


class UserAlreadyExists(FastAPIUsersException):
    """A user with this e-mail address (compared case-insensitively) already exists."""

    default_message = "A user with this e-mail address already exists."
    code = "USER_ALREADY_EXISTS"


class UserNotExists(FastAPIUsersException):
    """No user matches the id, e-mail address or OAuth account."""

    default_message = "The user does not exist."
    code = "USER_NOT_EXISTS"


class UserInactive(FastAPIUsersException):
    """The user is deactivated."""

    default_message = "The user is inactive."
    code = "USER_INACTIVE"


class UserAlreadyVerified(FastAPIUsersException):
    """The user's e-mail address is already verified."""

    default_message = "The user is already verified."
    code = "USER_ALREADY_VERIFIED"


class InvalidVerifyToken(FastAPIUsersException):
    """A verification token is malformed, expired, or no longer matches the user."""

    default_message = "The verification token is invalid."
    code = "INVALID_VERIFY_TOKEN"


class InvalidResetPasswordToken(FastAPIUsersException):
    """A reset token is malformed, expired, or was already used."""

    default_message = "The reset password token is invalid."
    code = "INVALID_RESET_PASSWORD_TOKEN"


class InvalidPasswordException(FastAPIUsersException):
    """The password policy refused a password.

    Attributes:
        reason: What is wrong with the password; sent to the client as given.
    """

    default_message = "The password is invalid."
    code = "INVALID_PASSWORD"

    def __init__(self, reason: Any) -> None:
        self.reason = reason
        super().__init__(str(reason))


class InvalidUserData(FastAPIUsersException):
    """The database refused a value the client sent (too long for its column, a NUL byte...)."""

    default_message = "A value is not valid for this field."
    code = "INVALID_USER_DATA"


class OAuthAccountAlreadyLinked(FastAPIUsersException):
    """The provider account is already linked to another user."""

    default_message = "This OAuth account is already linked to another user."
    code = "OAUTH_ACCOUNT_ALREADY_LINKED"


class OAuthAccountNotLinked(FastAPIUsersException):
    """The user has no linked account with this provider name and account id."""

    default_message = "This OAuth account is not linked to the user."
    code = "OAUTH_ACCOUNT_NOT_LINKED"


class OAuthLastLoginMethod(FastAPIUsersException):
    """Unlinking the account would leave a user without a usable password no way to log in."""

    default_message = "This OAuth account is the user's last way to log in."
    code = "OAUTH_LAST_LOGIN_METHOD"


class LogoutEverywhereNotSupported(FastAPIUsersException):
    """A backend of the app keeps no state that could end every token of a user.

    A plain :class:`~fastapi_userkit.authentication.JWTStrategy` (no revoked-token table, no
    refresh sessions) is self-contained: nothing the server does ends it before it expires, so
    "log out everywhere" must say so rather than answer a success that protects no one (issue 16).
    """

    default_message = "A backend of this app cannot end every session of a user."
    code = "LOGOUT_ALL_NOT_SUPPORTED"


class InvalidCredentials(FastAPIUsersException):
    """A sign-in failed. Unknown e-mail, wrong password and inactive user are one error (ASVS 5.0 6.3.8)."""

    default_message = "The credentials are not valid."
    code = "LOGIN_BAD_CREDENTIALS"


class UserNotVerified(FastAPIUsersException):
    """The credentials were right, but the app signs in verified users only."""

    default_message = "The user's e-mail address is not verified."
    code = "LOGIN_USER_NOT_VERIFIED"


class CurrentPasswordRequired(FastAPIUsersException):
    """A change of e-mail or password needs the current password (``require_current_password``)."""

    default_message = "The current password is required for this change."
    code = "UPDATE_USER_CURRENT_PASSWORD_REQUIRED"


class CurrentPasswordInvalid(FastAPIUsersException):
    """The current password given for a protected change is wrong (counted as a failed login)."""

    default_message = "The current password is not correct."
    code = "UPDATE_USER_CURRENT_PASSWORD_INVALID"


class OAuthEmailNotAvailable(FastAPIUsersException):
    """The OAuth provider did not give an e-mail address for the account."""

    default_message = "The OAuth provider gave no e-mail address."
    code = "OAUTH_NOT_AVAILABLE_EMAIL"


class OAuthRedirectNotAllowed(FastAPIUsersException):
    """The ``next`` URL asked of an OAuth login is not one the app allows."""

    default_message = "This redirect URL is not allowed."
    code = "OAUTH_REDIRECT_NOT_ALLOWED"


class OAuthStateInvalid(FastAPIUsersException):
    """An OAuth callback's ``state`` has no CSRF claim, or the browser's CSRF cookie is missing or differs.

    The state is checked before the provider hears of the code (ASVS 5.0 10.1.2; RFC 6749
    section 10.12).
    """

    default_message = "The OAuth state does not match this browser."
    code = "OAUTH_INVALID_STATE"


class OAuthStateMalformed(OAuthStateInvalid):
    """The ``state`` is missing, is not a JWT, is badly signed or is meant for another audience."""

    default_message = "The OAuth state cannot be read."
    code = "OAUTH_STATE_MALFORMED"


class OAuthStateExpired(OAuthStateInvalid):
    """The ``state`` is past its lifetime (the user took too long at the provider)."""

    default_message = "The OAuth state has expired."
    code = "OAUTH_STATE_EXPIRED"


class OAuthStateWrongUser(OAuthStateInvalid):
    """An associate flow's ``state`` was issued to another user than the one calling back."""

    default_message = "The OAuth flow was started by another user."
    code = "OAUTH_STATE_WRONG_USER"


class OAuthProviderRefused(FastAPIUsersException):
    """The provider redirected back with an ``error`` parameter (RFC 6749 section 4.1.2.1), or without a code.

    Attributes:
        error: The provider's ``error`` value, sent back to the client as it came; ``None``
            when the callback simply carried no code.
    """

    default_message = "Bad Request"
    code = "OAUTH_PROVIDER_REFUSED"

    def __init__(self, error: str | None = None) -> None:
        self.error = error
        super().__init__(error)


class OAuthCodeRejected(FastAPIUsersException):
    """The provider refused the authorization code: expired, redeemed or a wrong PKCE verifier (RFC 6749 5.2)."""

    default_message = "The OAuth provider refused the authorization code."
    code = "OAUTH_INVALID_CODE"


class OAuthProviderError(FastAPIUsersException):
    """The OAuth provider failed, or answered something the client library could not read."""

    default_message = "The OAuth provider failed."
    code = "OAUTH_PROVIDER_ERROR"


class RateLimited(FastAPIUsersException):
    """A rate limit is reached, or the account waits out a delay after failed logins (ASVS 5.0 6.3.1).

    Attributes:
        retry_after: Seconds until an attempt may succeed again.
    """

    default_message = "Too many attempts."
    code = "TOO_MANY_REQUESTS"

    def __init__(self, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(f"Too many attempts; retry in {self.retry_after_seconds} seconds.")

    @property
    def retry_after_seconds(self) -> int:
        """``retry_after`` in whole seconds, at least 1, as ``Retry-After`` carries it (RFC 9110 10.2.3)."""
        return max(1, math.ceil(self.retry_after))


class RateLimitStorageError(FastAPIUsersException):
    """The rate-limit counter store failed (unreachable, unbound, or its table could not be created).

    With ``RateLimitSettings(fail_open=True)`` (the default) the request goes on unthrottled and
    the failure is logged; otherwise the client gets ``503``.
    """

    default_message = "The rate-limit counter storage failed."
    code = "RATE_LIMIT_STORAGE_ERROR"


class CSRFRejected(FastAPIUsersException):
    """A cookie-authenticated, state-changing request failed the CSRF checks (ASVS 5.0 3.5.1-3.5.3)."""

    default_message = "The request failed the CSRF checks."
    code = "CSRF_REJECTED"


class CSRFCrossSiteRequest(CSRFRejected):
    """The browser says another site sent the request (``Sec-Fetch-Site``, ``Origin``)."""

    default_message = "The request was sent from another site."
    code = "CSRF_CROSS_SITE_REQUEST"


class CSRFTokenInvalid(CSRFRejected):
    """Token mode, and the CSRF header is missing or does not match the signed cookie."""

    default_message = "The CSRF token is missing or not valid."
    code = "CSRF_TOKEN_INVALID"


class ConfigurationError(FastAPIUsersException, ValueError):
    """The application configured the library wrongly (raised at construction time)."""

    default_message = "Invalid configuration."
    code = "CONFIGURATION_ERROR"
