"""The storage contracts of e-mail sign-in and e-mail change: what the two services need.

Every operation that decides whether a link or code is accepted is one atomic conditional write
whose row count is the answer, so of two concurrent uses exactly one succeeds, on any number of
application workers (T37: single use). Nothing stored can be replayed: links and codes are kept
as keyed digests only (:class:`~fastapi_userkit.email_auth.tokens.Digester`). The SQLAlchemy
implementations are in :mod:`fastapi_userkit.email_auth.sqlalchemy`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = ["EmailChangeRecord", "EmailChangeStore", "EmailSignInRecord", "EmailSignInStore"]


@dataclass(frozen=True)
class EmailSignInRecord:
    """One pending sign-in by e-mail, as stored.

    Attributes:
        id: The row's id (the code's digest is bound to it).
        user_id: The account it signs in to (as stored: a store may give it back as text, the
            service parses it with the manager's ``parse_id``); ``None`` for a sign-up, or for an address without an
            account (a row is written for every request, so a code attempt on an unknown address
            behaves as on a known one).
        email: The address the request named.
        email_key: The keyed digest of the address's case-folded form, the lookup key of codes;
            one pending sign-in per key.
        sign_up: Whether using it creates the account (``allow_sign_up`` on, address unknown).
        link_digest: The keyed digest of the link secret.
        code_digest: The keyed digest of the code, bound to :attr:`id`.
        created_at: When it was issued.
        expires_at: When the link and the code stop working.
        attempts: Codes tried so far.
        used_at: When the link or the code was used; ``None`` while unused.
    """

    id: uuid.UUID
    user_id: Any | None
    email: str
    email_key: str
    sign_up: bool
    link_digest: str
    code_digest: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    used_at: datetime | None = None


@runtime_checkable
class EmailSignInStore(Protocol):
    """Where pending sign-ins by e-mail live."""

    async def begin(self, record: EmailSignInRecord) -> None:
        """Store ``record``, replacing every sign-in (pending or not) with the same ``email_key``."""
        ...  # pragma: no cover

    async def find_by_link(self, digests: Sequence[str]) -> EmailSignInRecord | None:
        """The sign-in whose link digest is one of ``digests`` (one per configured key), or ``None``."""
        ...  # pragma: no cover

    async def find_by_email(self, email_key: str) -> EmailSignInRecord | None:
        """The sign-in issued for ``email_key``, or ``None``."""
        ...  # pragma: no cover

    async def count_attempt(self, sign_in: EmailSignInRecord, *, max_attempts: int) -> bool:
        """Count one code attempt if the sign-in is still stored, unused and has attempts left.

        One conditional write: of concurrent attempts, at most ``max_attempts`` ever return ``True``.
        """
        ...  # pragma: no cover

    async def consume(self, sign_in: EmailSignInRecord, *, now: datetime) -> bool:
        """Mark the sign-in used if it is still stored, unused and not expired at ``now``.

        One conditional write: of concurrent uses of the link and the code, exactly one returns
        ``True``, and the other half is dead from then on.
        """
        ...  # pragma: no cover

    async def delete_expired(self, *, now: datetime) -> int:
        """Delete the sign-ins expired at ``now``; return how many went (housekeeping)."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class EmailChangeRecord:
    """One e-mail change, as stored, from its request until its revert window closes.

    Attributes:
        id: The row's id.
        user_id: Whose address changes.
        old_email: The address when the change was asked for (it gets the revert link).
        new_email: The address asked for (it gets the confirmation link).
        confirm_digest: The keyed digest of the confirmation secret.
        revert_digest: The keyed digest of the revert secret.
        created_at: When the change was asked for.
        confirm_expires_at: When the confirmation link stops working.
        revert_expires_at: When the revert link stops working (days later).
        confirmed_at: When the new address confirmed; the user row changed then.
        cancelled_at: When a newer change replaced this pending one (its confirmation is dead).
        closed_at: When a revert of the user's changes ended both links of this one.
        reverted_at: When this change's own revert link was used.
    """

    id: uuid.UUID
    user_id: Any
    old_email: str
    new_email: str
    confirm_digest: str
    revert_digest: str
    created_at: datetime
    confirm_expires_at: datetime
    revert_expires_at: datetime
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    reverted_at: datetime | None = None

    @property
    def pending(self) -> bool:
        """Whether the confirmation link may still be used (expiry aside)."""
        return self.confirmed_at is None and self.cancelled_at is None and self.closed_at is None


@runtime_checkable
class EmailChangeStore(Protocol):
    """Where e-mail changes live."""

    async def begin(self, record: EmailChangeRecord) -> None:
        """Store ``record`` and cancel the user's older pending changes (their revert links stay)."""
        ...  # pragma: no cover

    async def cancel_pending(self, user_id: Any, *, now: datetime) -> bool:
        """Cancel the user's changes pending at ``now`` (their revert links stay); return whether there was one."""
        ...  # pragma: no cover

    async def find_by_confirm(self, digests: Sequence[str]) -> EmailChangeRecord | None:
        """The change whose confirmation digest is one of ``digests``, or ``None``."""
        ...  # pragma: no cover

    async def find_by_revert(self, digests: Sequence[str]) -> EmailChangeRecord | None:
        """The change whose revert digest is one of ``digests``, or ``None``."""
        ...  # pragma: no cover

    async def pending_for(self, user_id: Any, *, now: datetime) -> EmailChangeRecord | None:
        """The user's pending change not expired at ``now`` (for the account page), or ``None``."""
        ...  # pragma: no cover

    async def confirm(self, change_id: uuid.UUID, *, now: datetime) -> bool:
        """Mark the change confirmed if it is still pending and not expired at ``now`` (one conditional write)."""
        ...  # pragma: no cover

    async def revert(self, change_id: uuid.UUID, user_id: Any, *, now: datetime) -> bool:
        """Mark the change reverted if its revert link is open at ``now``, and close the user's later changes.

        One transaction; of concurrent reverts exactly one returns ``True``. Closing the changes
        asked for since (this one's time or later) kills their links too: a later change's revert
        link (sent to an address the intruder chose) must not undo the owner's revert. Earlier
        changes keep their revert links: reverting an intruder's later change first must not
        kill the owner's "this was not me" link of the change that moved the account away.
        """
        ...  # pragma: no cover

    async def delete_expired(self, *, now: datetime) -> int:
        """Delete the changes whose revert window closed before ``now``; return how many went."""
        ...  # pragma: no cover
