"""The errors of the second-factor core, a subtree of the library's exception tree.

::

    FastAPIUsersException                  the library's root (``message``, ``code``)
    └── MFAException                       any second-factor error
        ├── InvalidMFACode                 the code matches no factor of the user
        │   └── MFACodeReplayed            a TOTP code already accepted (RFC 6238 section 5.2)
        ├── MFANotEnabled                  the user has no active second factor
        ├── MFAAlreadyEnabled              the user already has an active TOTP factor
        ├── MFAEnrolmentNotFound           no pending enrolment, or it has expired
        ├── MFAChallengeInvalid            a login challenge unknown, expired, spent or exhausted
        └── SecretUnreadable               a stored secret was altered, moved or its key is gone

Routers map them to HTTP through the library's one error table; the ``code`` values are stable.
They live outside :mod:`fastapi_userkit.mfa` (which re-exports them) because the error table and
the sign-in service import them in every app, and that package needs the ``mfa`` extra.
"""

from __future__ import annotations

from fastapi_userkit.exceptions import FastAPIUsersException

__all__ = [
    "InvalidMFACode",
    "MFAAlreadyEnabled",
    "MFAChallengeInvalid",
    "MFACodeReplayed",
    "MFAEnrolmentNotFound",
    "MFAException",
    "MFANotEnabled",
    "SecretUnreadable",
]


class MFAException(FastAPIUsersException):
    """Root of the second-factor errors."""

    default_message = "Second-factor error."
    code = "MFA_ERROR"


class InvalidMFACode(MFAException):
    """The code is neither a current TOTP code nor an unused recovery code of the user."""

    default_message = "The code is not valid."
    code = "MFA_INVALID_CODE"


class MFACodeReplayed(InvalidMFACode):
    """The TOTP code is right but its time step was already accepted once.

    A subclass of :class:`InvalidMFACode`, so code that only asks "was the code accepted?" treats
    a replay as a wrong code, while an audit can tell them apart (T41: a replay is an event).
    """

    default_message = "The code was already used."
    code = "MFA_CODE_REPLAYED"


class MFANotEnabled(MFAException):
    """The user has no active second factor."""

    default_message = "Two-factor authentication is not enabled for this user."
    code = "MFA_NOT_ENABLED"


class MFAAlreadyEnabled(MFAException):
    """The user already has an active TOTP factor; it must be disabled before enrolling again."""

    default_message = "Two-factor authentication is already enabled for this user."
    code = "MFA_ALREADY_ENABLED"


class MFAEnrolmentNotFound(MFAException):
    """There is no pending TOTP enrolment to confirm, or it is older than the enrolment lifetime."""

    default_message = "No pending two-factor enrolment; start again."
    code = "MFA_ENROLMENT_NOT_FOUND"


class MFAChallengeInvalid(MFAException):
    """The login challenge cannot be answered: unknown, expired, already used, out of attempts, or
    made by another backend's login. The client starts the login again with the password.
    """

    default_message = "The login challenge is invalid or has expired; log in again."
    code = "MFA_CHALLENGE_INVALID"


class SecretUnreadable(MFAException):
    """A stored factor secret cannot be decrypted.

    Its ciphertext was altered, copied from another user's row or purpose, or was written under
    a key no longer configured. Never the client's fault: the application should log it.
    """

    default_message = "A stored second-factor secret cannot be decrypted."
    code = "MFA_SECRET_UNREADABLE"
