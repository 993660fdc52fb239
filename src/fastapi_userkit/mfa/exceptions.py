"""The errors of the second-factor core (defined in a module of their own, see there for the tree).

::

    MFAException
    ├── InvalidMFACode
    │   └── MFACodeReplayed
    ├── MFANotEnabled
    ├── MFAAlreadyEnabled
    ├── MFAEnrolmentNotFound
    ├── MFAChallengeInvalid
    └── SecretUnreadable
"""

from fastapi_userkit._mfa_exceptions import (
    InvalidMFACode,
    MFAAlreadyEnabled,
    MFAChallengeInvalid,
    MFACodeReplayed,
    MFAEnrolmentNotFound,
    MFAException,
    MFANotEnabled,
    SecretUnreadable,
)

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
