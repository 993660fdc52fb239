"""The storage contracts of the passkey core: registered credentials and issued challenges.

Every write that decides something is one atomic, conditional statement whose row count (or, in
Redis, one atomic command) gives the answer: a credential id inserted twice hits the unique
constraint, a challenge is taken by exactly one of several concurrent answers, and a signature
counter only moves forward. So the decisions hold on any number of application workers.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "ChallengePurpose",
    "ChallengeRecord",
    "PasskeyChallengeStore",
    "PasskeyCredential",
    "PasskeyCredentialStore",
    "challenge_digest",
]

ChallengePurpose = Literal["registration", "authentication", "signup"]
"""What a challenge may answer: a new passkey of a user, a sign-in (or second step, or step-up), or a
passwordless sign-up (a new passkey of a user not created yet)."""


def challenge_digest(challenge: bytes) -> str:
    """The SHA-256 of a challenge, base64url without padding: how a challenge is stored and looked up.

    A challenge has 256 random bits, so an unkeyed hash is enough: a dump of the table or of
    Redis gives nothing that answers a ceremony (T44; the refresh tokens are kept the same way).
    """
    return base64.urlsafe_b64encode(hashlib.sha256(challenge).digest()).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ChallengeRecord:
    """What a challenge was issued for.

    Attributes:
        purpose: The ceremony that may answer it.
        user_key: ``str(user_id)`` of the user it was issued to; ``None`` for a usernameless sign-in.
            For a sign-up, the id the new user will get.
        expires_at: When it stops being answerable.
        payload: What else the ceremony is bound to, kept server side and never sent to the
            client: a sign-up's account fields (JSON), or the digest of the login challenge a
            second-step passkey answers. An answer must match it exactly.
    """

    purpose: ChallengePurpose
    user_key: str | None
    expires_at: datetime
    payload: str | None = None


@runtime_checkable
class PasskeyChallengeStore(Protocol):
    """Where issued challenges wait for their answer, by digest only."""

    async def put(self, digest: str, record: ChallengeRecord, *, now: datetime) -> None:
        """Store a new challenge until ``record.expires_at`` (``now`` dates the write)."""
        ...  # pragma: no cover

    async def take(self, digest: str) -> ChallengeRecord | None:
        """Remove the challenge and return what it was issued for; ``None`` if it is not there.

        One atomic removal: of concurrent takes of one digest, exactly one gets the record.
        """
        ...  # pragma: no cover


@dataclass(frozen=True)
class PasskeyCredential:
    """A registered passkey.

    Attributes:
        id: The row's own id (what routes name a passkey by).
        user_id: The owner.
        credential_id: The WebAuthn credential id, base64url without padding.
        public_key: The COSE public key, as the authenticator sent it.
        sign_count: The last signature counter accepted (0 for authenticators without one).
        transports: How the authenticator said it can be reached (``internal``, ``hybrid``, ...).
        backup_eligible: The BE flag at registration: a synced (multi-device) passkey.
        backed_up: The BS flag at the last use: the key is backed up now.
        aaguid: The authenticator model's AAGUID (all zeros under ``none`` attestation, often).
        name: The name the user gave it.
        created_at: When it was registered.
        last_used_at: When it last signed in; ``None`` before its first use.
    """

    id: uuid.UUID
    user_id: Any
    credential_id: str
    public_key: bytes
    sign_count: int
    transports: tuple[str, ...]
    backup_eligible: bool
    backed_up: bool
    aaguid: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


@runtime_checkable
class PasskeyCredentialStore(Protocol):
    """Where registered passkeys live."""

    async def list_for_user(self, user_id: Any) -> list[PasskeyCredential]:
        """The user's passkeys, oldest first."""
        ...  # pragma: no cover

    async def get(self, credential_id: str) -> PasskeyCredential | None:
        """The passkey with this WebAuthn credential id, or ``None``."""
        ...  # pragma: no cover

    async def add(self, credential: PasskeyCredential) -> bool:
        """Insert a passkey; ``False`` (and nothing written) if its credential id is taken."""
        ...  # pragma: no cover

    async def rename(self, user_id: Any, id: uuid.UUID, name: str) -> bool:
        """Rename the user's passkey ``id``; ``False`` if the user has no such passkey."""
        ...  # pragma: no cover

    async def delete(self, user_id: Any, id: uuid.UUID, *, unless_last: bool = False) -> bool:
        """Delete the user's passkey ``id``; ``False`` if the user has no such passkey.

        With ``unless_last``, refuse (raise ``PasskeyLastLoginMethod``, nothing deleted) when it is
        the user's only passkey, deciding under a lock so that concurrent deletions of the user's
        passkeys never leave none.
        """
        ...  # pragma: no cover

    async def record_use(self, credential_id: str, *, sign_count: int, backed_up: bool, now: datetime) -> bool:
        """Store a verified use: the new counter, the backup state, the time.

        One conditional write, refused (``False``) when ``sign_count`` is not above the stored
        counter, unless both are 0 (an authenticator without a counter, WebAuthn L3 6.1.1), or
        when the passkey is gone. Of concurrent uses with one counter value, at most one succeeds.
        """
        ...  # pragma: no cover


def transports_to_text(transports: Sequence[str]) -> str:
    """The stored form of a transport list (comma-separated)."""
    return ",".join(transports)


def transports_from_text(text: str) -> tuple[str, ...]:
    """The transport list of its stored form."""
    return tuple(part for part in text.split(",") if part)
