"""The errors of the passkey core (defined in a module of their own, see there for the tree).

::

    PasskeyException
    ├── PasskeyVerificationFailed
    │   ├── InvalidPasskeyPayload
    │   ├── PasskeyOriginMismatch
    │   ├── PasskeyRPIDMismatch
    │   └── PasskeyUserNotVerified
    ├── PasskeyChallengeInvalid
    ├── UnknownPasskey
    ├── PasskeyAlreadyRegistered
    ├── PasskeyInvalidName
    ├── PasskeyCounterRegression
    ├── PasskeyLastLoginMethod
    ├── PasswordLastLoginMethod
    ├── PasswordAlreadySet
    └── PasskeySignUpUnavailable
"""

from fastapi_userkit._passkey_exceptions import (
    InvalidPasskeyPayload,
    PasskeyAlreadyRegistered,
    PasskeyChallengeInvalid,
    PasskeyCounterRegression,
    PasskeyException,
    PasskeyInvalidName,
    PasskeyLastLoginMethod,
    PasskeyOriginMismatch,
    PasskeyRPIDMismatch,
    PasskeySignUpUnavailable,
    PasskeyUserNotVerified,
    PasskeyVerificationFailed,
    PasswordAlreadySet,
    PasswordLastLoginMethod,
    UnknownPasskey,
)

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
    "PasskeySignUpUnavailable",
    "PasskeyUserNotVerified",
    "PasskeyVerificationFailed",
    "PasswordAlreadySet",
    "PasswordLastLoginMethod",
    "UnknownPasskey",
]
