"""The values the passkey service hands back: sign-in results, events, and the user handle mapping."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from fastapi_userkit.passkeys.store import PasskeyCredential

__all__ = [
    "Clock",
    "EventSink",
    "PasskeyEvent",
    "PasskeyEventType",
    "PasskeySignIn",
    "PasskeySignUp",
    "UserHandle",
    "default_user_handle",
]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (tests inject a fixed one)."""

UserHandle = Callable[[Any], bytes]
"""Maps a user id to the WebAuthn user handle (at most 64 bytes) that authenticators store."""


def default_user_handle(user_id: Any) -> bytes:
    """The user handle of a user: a UUID's 16 bytes, or any other id's text in UTF-8.

    WebAuthn L3 14.6.1: the handle must not be personal data such as an e-mail address; an
    opaque database id is not. It is stable, so an authenticator replaces a user's old passkey
    for this site instead of keeping two.
    """
    if isinstance(user_id, uuid.UUID):
        return user_id.bytes
    return str(user_id).encode("utf-8")


class PasskeyEventType(StrEnum):
    """What happened to a passkey."""

    REGISTERED = "passkey_registered"
    RENAMED = "passkey_renamed"
    DELETED = "passkey_deleted"
    COUNTER_REGRESSION = "passkey_counter_regression"


@dataclass(frozen=True)
class PasskeyEvent:
    """A passkey event for the application's audit trail (T47); never carries a key or a challenge.

    Attributes:
        type: What happened.
        user_id: The passkey's owner.
        passkey_id: The passkey's row id.
        created_at: When (the service's clock).
        details: Non-secret context (the counters of a regression, the new name).
    """

    type: PasskeyEventType
    user_id: Any
    passkey_id: uuid.UUID
    created_at: datetime
    details: Mapping[str, str] = field(default_factory=dict)


EventSink = Callable[[PasskeyEvent], Awaitable[None]]


@dataclass(frozen=True)
class PasskeySignIn:
    """A verified passkey sign-in.

    Attributes:
        user_id: Who signed in.
        credential: The passkey used, as stored after this use.
        user_verified: Whether the authenticator verified the user (PIN, biometrics): then the
            passkey is two factors in one, something held and something known or been.
    """

    user_id: Any
    credential: PasskeyCredential
    user_verified: bool

    @property
    def aal(self) -> int:
        """The authentication assurance level: 2 with user verification, else 1 (NIST SP 800-63B 4.2)."""
        return 2 if self.user_verified else 1


@dataclass(frozen=True)
class PasskeySignUp:
    """A verified passwordless sign-up, before anything is stored.

    Attributes:
        user_id: The id the new user must get (the authenticator keeps its user handle).
        fields: The account fields given when the ceremony began (JSON text, kept server side).
        passkey: The new passkey, stored by :meth:`PasskeyService.store_signup` once the user exists.
        user_verified: Whether the authenticator verified the user: the sign-up is then AAL2.
    """

    user_id: uuid.UUID
    fields: str
    passkey: PasskeyCredential
    user_verified: bool
