"""The errors of the passkey (WebAuthn) core, a subtree of the library's exception tree.

::

    FastAPIUsersException                   the library's root (``message``, ``code``)
    └── PasskeyException                    any passkey error
        ├── PasskeyVerificationFailed       the response does not verify (signature, flags, attestation)
        │   ├── InvalidPasskeyPayload       the response is not a WebAuthn credential at all
        │   ├── PasskeyOriginMismatch       clientDataJSON names an origin not configured
        │   ├── PasskeyRPIDMismatch         the authenticator signed for another relying party
        │   └── PasskeyUserNotVerified      user verification was required and did not happen
        ├── PasskeyChallengeInvalid         the challenge is unknown, used, expired or not this ceremony's
        ├── UnknownPasskey                  no registered credential has this id (for this user)
        ├── PasskeyAlreadyRegistered        the credential id is registered already
        ├── PasskeyInvalidName              a passkey name that is empty, too long or not printable
        ├── PasskeyCounterRegression        the signature counter went backwards: a possible clone
        ├── PasskeyLastLoginMethod          deleting the user's last way to sign in
        ├── PasswordLastLoginMethod         removing a password that is the user's last way to sign in
        └── PasswordAlreadySet              setting a first password on an account that has one

Every one is the client's doing (or an attacker's), so each maps to a 4xx; none is a server
fault. Routers map them to HTTP through the library's one error table; the ``code`` values are
stable. They live outside :mod:`fastapi_userkit.passkeys` (which re-exports them) because the
error table imports them in every app, and that package needs the ``passkeys`` extra.
"""

from __future__ import annotations

from typing import Any

from fastapi_userkit.exceptions import FastAPIUsersException

__all__ = [
    "InvalidPasskeyPayload",
    "PasskeyAlreadyRegistered",
    "PasskeyChallengeInvalid",
    "PasskeyCounterRegression",
    "PasskeyException",
    "PasskeyInvalidName",
    "PasskeyLastLoginMethod",
    "PasskeyOriginMismatch",
    "PasskeyRPIDMismatch",
    "PasskeyUserNotVerified",
    "PasskeyVerificationFailed",
    "PasswordAlreadySet",
    "PasswordLastLoginMethod",
    "UnknownPasskey",
]


class PasskeyException(FastAPIUsersException):
    """Root of the passkey errors."""

    default_message = "Passkey error."
    code = "PASSKEY_ERROR"


class PasskeyVerificationFailed(PasskeyException):
    """The WebAuthn response does not verify: bad signature, missing flag, unacceptable attestation."""

    default_message = "The passkey response could not be verified."
    code = "PASSKEY_VERIFICATION_FAILED"


class InvalidPasskeyPayload(PasskeyVerificationFailed):
    """The body is not a WebAuthn credential: missing fields, bad base64url, CBOR or JSON that does not parse."""

    default_message = "The passkey response is malformed."
    code = "PASSKEY_INVALID_PAYLOAD"


class PasskeyOriginMismatch(PasskeyVerificationFailed):
    """The browser ran the ceremony on an origin the relying party did not configure (WebAuthn L3 7.1 step 9)."""

    default_message = "The passkey was used on an origin this site does not accept."
    code = "PASSKEY_WRONG_ORIGIN"


class PasskeyRPIDMismatch(PasskeyVerificationFailed):
    """The authenticator data's RP id hash is not the configured RP id's (WebAuthn L3 7.1 step 13)."""

    default_message = "The passkey belongs to another site."
    code = "PASSKEY_WRONG_RP_ID"


class PasskeyUserNotVerified(PasskeyVerificationFailed):
    """The settings require user verification (PIN, biometrics) and the authenticator did not perform it."""

    default_message = "The authenticator did not verify the user."
    code = "PASSKEY_USER_NOT_VERIFIED"


class PasskeyChallengeInvalid(PasskeyException):
    """The response answers no live challenge of this ceremony: never issued, already used, expired,
    issued for the other ceremony or for another user (T44: single-use, at most 5 minutes)."""

    default_message = "The passkey challenge is invalid or expired; start again."
    code = "PASSKEY_CHALLENGE_INVALID"


class UnknownPasskey(PasskeyException):
    """No registered credential has this id, or it belongs to another user."""

    default_message = "This passkey is not registered."
    code = "PASSKEY_UNKNOWN_CREDENTIAL"


class PasskeyAlreadyRegistered(PasskeyException):
    """The credential id is registered already (to this user or another): WebAuthn L3 7.1 step 26."""

    default_message = "This passkey is already registered."
    code = "PASSKEY_ALREADY_REGISTERED"


class PasskeyInvalidName(PasskeyException):
    """A passkey name must have 1 to 64 printable characters (after trimming spaces)."""

    default_message = "A passkey name must have 1 to 64 printable characters."
    code = "PASSKEY_INVALID_NAME"


class PasskeyCounterRegression(PasskeyException):
    """The signature counter is not above the stored one: the credential may have been cloned.

    WebAuthn L3 section 6.1.1: a counter that does not increase signals that two copies of the
    private key may exist. The sign-in is refused and the service reports a security event.

    Attributes:
        credential_id: The base64url credential id.
        user_id: The credential's owner.
        stored: The counter stored before this use.
        received: The counter the authenticator sent.
    """

    default_message = "The passkey's signature counter went backwards; it may have been cloned."
    code = "PASSKEY_COUNTER_REGRESSION"

    def __init__(
        self,
        message: str | None = None,
        *,
        credential_id: str = "",
        user_id: Any = None,
        stored: int = 0,
        received: int = 0,
    ) -> None:
        super().__init__(message)
        self.credential_id = credential_id
        self.user_id = user_id
        self.stored = stored
        self.received = received


class PasskeyLastLoginMethod(PasskeyException):
    """The passkey is the user's last way to sign in: no usable password and no linked OAuth account.

    The rule of ``OAuthLastLoginMethod`` seen from the other side (issue 19, item 5): an account
    never loses its last way in, or only an administrator could let its owner in again.
    """

    default_message = "This passkey is your only way to sign in: set a password or add another passkey first."
    code = "PASSKEY_LAST_LOGIN_METHOD"


class PasswordLastLoginMethod(PasskeyException):
    """Removing the password would leave the user no way to sign in (no passkey, no linked OAuth account)."""

    default_message = "The password is your only way to sign in: add a passkey before removing it."
    code = "PASSWORD_LAST_LOGIN_METHOD"


class PasswordAlreadySet(PasskeyException):
    """A first password is set only on an account without one; a password is changed with the current one."""

    default_message = "This account has a password already; change it with the current password."
    code = "PASSWORD_ALREADY_SET"


class PasskeySignUpUnavailable(PasskeyException):
    """Passwordless sign-up is wired on an app whose user ids are not UUIDs (it needs them).

    The authenticator keeps the user handle chosen before the user exists, so the new user's id is
    chosen then too, and only UUID ids can be. The client is told the feature is not offered (404);
    the cause is logged for the developer.
    """

    default_message = "Creating an account with a passkey is not offered here."
    code = "PASSKEY_SIGNUP_UNAVAILABLE"
