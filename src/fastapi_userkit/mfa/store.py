"""The storage contract of the second-factor core: what :class:`~fastapi_userkit.mfa.MFAService` needs.

Every operation that decides whether a code is accepted is one atomic, conditional write whose
row count gives the answer, so two concurrent uses of one code give exactly one success (T41,
T42), on any number of application workers. The SQLAlchemy implementation is
:class:`~fastapi_userkit.mfa.SQLAlchemyMFAStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = ["MFAStore", "TOTPRecord"]


@dataclass(frozen=True)
class TOTPRecord:
    """A user's TOTP factor as stored.

    Attributes:
        user_id: The owner.
        secret: The encrypted secret (a :class:`~fastapi_userkit.mfa.SecretBox` ciphertext).
        created_at: When the enrolment began.
        confirmed_at: When a first code confirmed it; ``None`` while the enrolment is pending.
        last_step: The last RFC 6238 time step accepted; ``None`` before the first.
    """

    user_id: Any
    secret: str
    created_at: datetime
    confirmed_at: datetime | None
    last_step: int | None

    @property
    def active(self) -> bool:
        """Whether the factor is confirmed (a pending enrolment protects nothing yet)."""
        return self.confirmed_at is not None


@runtime_checkable
class MFAStore(Protocol):
    """Where TOTP factors and recovery-code digests live."""

    async def get_totp(self, user_id: Any) -> TOTPRecord | None:
        """The user's TOTP factor, pending or active, or ``None``."""
        ...  # pragma: no cover

    async def begin_enrolment(self, user_id: Any, secret: str, *, now: datetime) -> bool:
        """Store a pending factor, replacing any pending one; ``False`` if an active one exists."""
        ...  # pragma: no cover

    async def confirm_enrolment(
        self, user_id: Any, *, secret: str, step: int, now: datetime, recovery_digests: Sequence[str]
    ) -> bool:
        """Activate the pending factor with ``step`` as its last accepted step and store the codes' digests.

        All or nothing; ``False`` (and nothing written) unless the pending factor's ciphertext is
        still ``secret``, the one the confirming code was checked against (an enrolment begun again
        meanwhile must not be activated by a code of the previous secret).
        """
        ...  # pragma: no cover

    async def accept_step(self, user_id: Any, step: int) -> bool:
        """Record ``step`` as accepted if the factor is active and ``step`` is after the last one.

        One conditional write: of concurrent calls with one step, exactly one returns ``True``.
        """
        ...  # pragma: no cover

    async def replace_secret(self, user_id: Any, old: str, new: str) -> bool:
        """Swap the stored ciphertext ``old`` for ``new`` (key rotation); ``False`` if it changed meanwhile."""
        ...  # pragma: no cover

    async def remove(self, user_id: Any) -> bool:
        """Delete the user's TOTP factor and recovery codes; ``True`` if a factor was there."""
        ...  # pragma: no cover

    async def replace_recovery_codes(self, user_id: Any, digests: Sequence[str], *, now: datetime) -> None:
        """Replace all the user's recovery codes, used or not, by ``digests`` in one transaction."""
        ...  # pragma: no cover

    async def consume_recovery_code(self, user_id: Any, digests: Sequence[str], *, now: datetime) -> bool:
        """Mark used the unused code whose digest is one of ``digests`` (one per configured key).

        One conditional write: of concurrent uses of one code, exactly one returns ``True``.
        """
        ...  # pragma: no cover

    async def count_remaining(self, user_id: Any) -> int:
        """How many of the user's recovery codes are unused."""
        ...  # pragma: no cover
