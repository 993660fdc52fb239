"""The passkey (WebAuthn) core: ceremonies on py_webauthn, credential and challenge storage.

::

    PasskeySettings                  RP id and name, allowed origins, user verification, attestation,
                                     challenge lifetime (checked at construction)
    PasskeyService                   registration and authentication options and verification
                                     (known user or usernameless), list, rename, delete
    PasskeyCredentialStore           the credential storage protocol (conditional writes decide)
    PasskeyChallengeStore            the challenge storage protocol (digests only, single use)
    SQLAlchemyPasskeyStore           credentials in SQL, over the mixins of ``tables``
    SQLAlchemyPasskeyChallengeStore  challenges in SQL
    RedisPasskeyChallengeStore       challenges in Redis
    exceptions                       PasskeyException and its subtree, each with a stable ``code``

Needs the ``passkeys`` extra (``pip install fastapi-userkit[passkeys]``: py_webauthn).
"""

from fastapi_userkit.passkeys.exceptions import (
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
from fastapi_userkit.passkeys.models import (
    Clock,
    EventSink,
    PasskeyEvent,
    PasskeyEventType,
    PasskeySignIn,
    PasskeySignUp,
    UserHandle,
    default_user_handle,
)
from fastapi_userkit.passkeys.redis import RedisPasskeyChallengeStore
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.passkeys.settings import MAX_CHALLENGE_LIFETIME, PasskeySettings
from fastapi_userkit.passkeys.sqlalchemy import SQLAlchemyPasskeyChallengeStore, SQLAlchemyPasskeyStore
from fastapi_userkit.passkeys.store import (
    ChallengePurpose,
    ChallengeRecord,
    PasskeyChallengeStore,
    PasskeyCredential,
    PasskeyCredentialStore,
    challenge_digest,
)
from fastapi_userkit.passkeys.tables import (
    SQLAlchemyBasePasskeyChallengeTable,
    SQLAlchemyBasePasskeyTable,
    SQLAlchemyBasePasskeyTableUUID,
)

__all__ = [
    "MAX_CHALLENGE_LIFETIME",
    "ChallengePurpose",
    "ChallengeRecord",
    "Clock",
    "EventSink",
    "InvalidPasskeyPayload",
    "PasskeyAlreadyRegistered",
    "PasskeyChallengeInvalid",
    "PasskeyChallengeStore",
    "PasskeyCounterRegression",
    "PasskeyCredential",
    "PasskeyCredentialStore",
    "PasskeyEvent",
    "PasskeyEventType",
    "PasskeyException",
    "PasskeyInvalidName",
    "PasskeyLastLoginMethod",
    "PasskeyOriginMismatch",
    "PasskeyRPIDMismatch",
    "PasskeyService",
    "PasskeySettings",
    "PasskeySignIn",
    "PasskeySignUp",
    "PasskeySignUpUnavailable",
    "PasskeyUserNotVerified",
    "PasskeyVerificationFailed",
    "PasswordAlreadySet",
    "PasswordLastLoginMethod",
    "RedisPasskeyChallengeStore",
    "SQLAlchemyBasePasskeyChallengeTable",
    "SQLAlchemyBasePasskeyTable",
    "SQLAlchemyBasePasskeyTableUUID",
    "SQLAlchemyPasskeyChallengeStore",
    "SQLAlchemyPasskeyStore",
    "UnknownPasskey",
    "UserHandle",
    "challenge_digest",
    "default_user_handle",
]
