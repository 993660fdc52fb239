"""The second-factor core: TOTP (RFC 6238), recovery codes, secrets encrypted at rest, storage.

::

    SecretBox              AES-256-GCM for factor secrets (bound to user and purpose), HMAC digests,
                           keys derived by HKDF from the app's secrets, rotation by a list of secrets
    totp                   secrets, otpauth:// URIs, SVG QR codes, code matching by time step
    recovery               recovery codes: generation, normalisation of what a person types
    MFAStore               the storage protocol (atomic conditional writes decide every code)
    SQLAlchemyMFAStore     its SQLAlchemy implementation, over the mixins of ``tables``
    MFAService             enrol, confirm, verify, regenerate, disable, status
    MFA                    the application's settings, given to ``FastAPIUsers(mfa=...)``
    challenge              login challenges between the password and the code (SQL or Redis store)
    exceptions             MFAException and its subtree, each with a stable ``code``

Needs the ``mfa`` extra (``pip install fastapi-userkit[mfa]``: pyotp, segno, cryptography).
"""

from fastapi_userkit.mfa.challenge import (
    ChallengeStore,
    RedisChallengeStore,
    SQLAlchemyBaseMFAChallengeTable,
    SQLAlchemyBaseMFAChallengeTableUUID,
    SQLAlchemyChallengeStore,
)
from fastapi_userkit.mfa.exceptions import (
    InvalidMFACode,
    MFAAlreadyEnabled,
    MFAChallengeInvalid,
    MFACodeReplayed,
    MFAEnrolmentNotFound,
    MFAException,
    MFANotEnabled,
    SecretUnreadable,
)
from fastapi_userkit.mfa.factor import TOTPSecondFactor
from fastapi_userkit.mfa.secretbox import SecretBox
from fastapi_userkit.mfa.service import Clock, MFAMethod, MFAService, MFAStatus, TOTPEnrolment
from fastapi_userkit.mfa.settings import MFA
from fastapi_userkit.mfa.sqlalchemy import SQLAlchemyMFAStore
from fastapi_userkit.mfa.store import MFAStore, TOTPRecord
from fastapi_userkit.mfa.tables import (
    SQLAlchemyBaseRecoveryCodeTable,
    SQLAlchemyBaseRecoveryCodeTableUUID,
    SQLAlchemyBaseTOTPTable,
    SQLAlchemyBaseTOTPTableUUID,
)

__all__ = [
    "MFA",
    "ChallengeStore",
    "Clock",
    "InvalidMFACode",
    "MFAAlreadyEnabled",
    "MFAChallengeInvalid",
    "MFACodeReplayed",
    "MFAEnrolmentNotFound",
    "MFAException",
    "MFAMethod",
    "MFANotEnabled",
    "MFAService",
    "MFAStatus",
    "MFAStore",
    "RedisChallengeStore",
    "SQLAlchemyBaseMFAChallengeTable",
    "SQLAlchemyBaseMFAChallengeTableUUID",
    "SQLAlchemyBaseRecoveryCodeTable",
    "SQLAlchemyBaseRecoveryCodeTableUUID",
    "SQLAlchemyBaseTOTPTable",
    "SQLAlchemyBaseTOTPTableUUID",
    "SQLAlchemyChallengeStore",
    "SQLAlchemyMFAStore",
    "SecretBox",
    "SecretUnreadable",
    "TOTPEnrolment",
    "TOTPRecord",
    "TOTPSecondFactor",
]
