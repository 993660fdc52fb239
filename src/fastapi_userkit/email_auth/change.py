"""The confirmed e-mail change (T40; the model of Kratos and Supabase).

1. :meth:`EmailChangeService.request_change` (after a fresh authentication, which the caller
   checks: ``current_user(fresh_within=...)``) stores a *pending* change and e-mails two links:
   a confirmation to the new address, and a notice with a "this was not me" link to the old one.
   The user row does not change. A newer change cancels the pending one. A taken address is
   answered like a free one (ASVS 5.0 6.3.8): same work, same e-mails, same ``None``.
2. :meth:`EmailChangeService.confirm` (the link of the new address, POSTed by a page: T35)
   changes the row, once; a taken address is refused there, to whoever holds that link.
3. :meth:`EmailChangeService.revert` (the old address's link, valid for days) cancels or undoes
   the change, closes the changes asked for since (earlier ones keep their revert links) and
   ends every session of the user, since whoever asked for the change had one (the manager's
   own path, as after a password reset).

The user may also :meth:`~EmailChangeService.cancel` a pending change, or have its e-mails sent
again (:meth:`~EmailChangeService.resend`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic
from urllib.parse import quote

from fastapi import Request

from fastapi_userkit import exceptions
from fastapi_userkit._email_forms import login_email
from fastapi_userkit._fingerprint import fingerprints_match
from fastapi_userkit._oauth_accounts import make_unusable_password
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.email_auth import tokens
from fastapi_userkit.email_auth.exceptions import (
    EmailAddressTaken,
    EmailAddressUnchanged,
    EmailLinkExpired,
    EmailLinkInvalid,
    EmailLinkUsed,
)
from fastapi_userkit.email_auth.mail import EmailAuthMailer
from fastapi_userkit.email_auth.settings import EmailChangeSettings
from fastapi_userkit.email_auth.sign_in import Clock, Defer
from fastapi_userkit.email_auth.store import EmailChangeRecord, EmailChangeStore
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.security.events import SecurityEventType

__all__ = ["EmailChangePending", "EmailChangeReverted", "EmailChangeService"]

_CONFIRM = "email change confirmation"
_REVERT = "email change revert"
_BOUND_TO = "email change password fingerprint"
_FINGERPRINT_LENGTH = 22


@dataclass(frozen=True)
class EmailChangePending:
    """A change waiting for its confirmation, as the account page shows it.

    Attributes:
        new_email: The address asked for.
        expires_at: When its confirmation link stops working.
    """

    new_email: str
    expires_at: datetime


@dataclass(frozen=True)
class EmailChangeReverted(Generic[UP]):
    """What a revert did.

    The revert is the owner saying "this was not me": whoever asked for the change was signed
    in as them. :meth:`EmailChangeService.revert` has made the password unusable and ended every
    session of :attr:`user` already (and emitted the ``password_changed`` and ``sessions_revoked``
    security events, T40); a page that served the revert clears its own cookie too.

    Attributes:
        user: The user, with the address restored.
        email: The account's address now (the old address of the change).
        discarded_email: The address the change had set, or would have set.
        restored: Whether the user row changed back (the change had been confirmed, or the
            address had changed since); ``False`` when the change was only cancelled.
        address_taken: The old address could not come back: another account has it by now
            (the changes are closed and the sessions must end all the same).
        end_sessions: Always ``True``: every session of the user was ended.
        password_cleared: Always ``True``: the password was made unusable (whoever asked for the
            change had signed in as the user, so likely knows it); the owner sets a new one with
            "forgot password", whose link goes to the account's address (:attr:`email`).
    """

    user: UP
    email: str
    discarded_email: str
    restored: bool
    address_taken: bool = False
    end_sessions: bool = True
    password_cleared: bool = True


class EmailChangeService(Generic[UP, ID]):
    """Asks for, confirms and reverts e-mail changes for one request.

    Args:
        store: Where changes live (per request, like the user database).
        user_manager: The request's user manager.
        settings: Links, lifetimes and the digest secret.
        mailer: Sends the confirmation and the old-address notice.
        clock: The current time; inject one in tests.
    """

    def __init__(
        self,
        store: EmailChangeStore,
        user_manager: BaseUserManager[UP, ID],
        settings: EmailChangeSettings,
        mailer: EmailAuthMailer,
        *,
        clock: Clock = now_utc,
    ) -> None:
        self.store = store
        self.user_manager = user_manager
        self.settings = settings
        self.mailer = mailer
        self.clock = clock

    async def request_change(self, user: UP, new_email: str, *, defer: Defer | None = None) -> None:
        """Store a pending change of ``user``'s address to ``new_email`` and send both e-mails.

        The caller has checked a fresh authentication (ASVS 5.0 7.5.1) and the address's form
        (the app's ``UserUpdate`` schema). Whether the address is taken is not looked at here.

        Args:
            user: The signed-in user.
            new_email: The address asked for.
            defer: Runs the e-mails' delivery later (``BackgroundTasks.add_task``); at once when ``None``.

        Raises:
            EmailAddressUnchanged: ``new_email`` is the user's address already.
        """
        address = login_email(new_email)
        if address == user.email:
            raise EmailAddressUnchanged
        now = self.clock()
        confirm_secret, revert_secret = tokens.new_link_secret(), tokens.new_link_secret()
        digester = self.settings.digester
        record = EmailChangeRecord(
            id=uuid.uuid4(),
            user_id=user.id,
            old_email=user.email,
            new_email=address,
            confirm_digest=digester.digest(confirm_secret, purpose=_CONFIRM),
            revert_digest=digester.digest(revert_secret, purpose=_REVERT),
            created_at=now,
            confirm_expires_at=now + self.settings.confirm_lifetime,
            revert_expires_at=now + self.settings.revert_lifetime,
        )
        await self.store.begin(record)
        # The confirmation token carries a fingerprint of the password hash (as reset tokens do):
        # a password reset or change, or the first e-mail sign-in that clears a registrant's
        # password, kills a change an intruder asked for with a session that has ended since.
        confirm_token = f"{confirm_secret}.{self._fingerprint(user)}"

        async def send() -> None:
            confirm_link = self.settings.confirm_url.format(token=quote(confirm_token, safe=""))
            revert_link = self.settings.revert_url.format(token=quote(revert_secret, safe=""))
            minutes = int(self.settings.confirm_lifetime.total_seconds() // 60)
            await self.mailer.send(
                "email_change_confirm", address, {"link": confirm_link, "lifetime_minutes": minutes}, when=now
            )
            await self.mailer.send(
                "email_change_notice",
                record.old_email,
                {"link": revert_link, "new_email": address, "lifetime_days": self.settings.revert_lifetime.days},
                when=now,
            )

        if defer is None:
            await send()
        else:
            defer(send)
        return None

    async def pending(self, user: UP) -> EmailChangePending | None:
        """The user's change waiting for confirmation, or ``None``."""
        record = await self.store.pending_for(user.id, now=self.clock())
        return None if record is None else EmailChangePending(record.new_email, record.confirm_expires_at)

    async def cancel(self, user: UP) -> bool:
        """Cancel the user's pending change: its confirmation link dies, the old address's revert link stays.

        Returns:
            Whether a change was pending.
        """
        return await self.store.cancel_pending(user.id, now=self.clock())

    async def resend(self, user: UP, *, defer: Defer | None = None) -> EmailChangePending | None:
        """Send the e-mails of the user's pending change again, with new links (the previous ones die).

        Returns:
            The pending change as it is now, or ``None`` when none was pending (nothing is sent).
        """
        current = await self.pending(user)
        if current is None:
            return None
        await self.request_change(user, current.new_email, defer=defer)
        return await self.pending(user)

    async def confirm(self, secret: str, *, request: Request | None = None) -> UP:
        """Apply the change whose confirmation link carries ``secret``; return the updated user.

        The address becomes verified: using the link proved it.

        Raises:
            EmailLinkInvalid: No such link; or the user is gone, deactivated, changed address
                another way since, or changed password since the change was asked for.
            EmailLinkUsed: The link was used, a newer change replaced it, or a revert closed it.
            EmailLinkExpired: The link is older than ``confirm_lifetime``.
            EmailAddressTaken: The new address belongs to another account.
        """
        secret, _, bound_to = secret.rpartition(".")
        digests = self.settings.digester.digests(secret, purpose=_CONFIRM)
        record = await self.store.find_by_confirm(digests)
        if record is None:
            raise EmailLinkInvalid
        if not record.pending:
            raise EmailLinkUsed
        now = self.clock()
        if now >= record.confirm_expires_at:
            raise EmailLinkExpired
        user_db = self.user_manager.user_db
        user = await user_db.get(record.user_id)
        if user is None or not user.is_active or user.email != record.old_email:
            # A concurrent use of this very link may have changed the address since it was read:
            # that is a used link, not an invalid one.
            latest = await self.store.find_by_confirm(digests)
            raise EmailLinkUsed if latest is not None and not latest.pending else EmailLinkInvalid
        if not fingerprints_match(self._fingerprint(user), bound_to):
            raise EmailLinkInvalid  # the password changed since the change was asked for
        await self._check_free(record.new_email, user)
        if not await self.store.confirm(record.id, now=now):
            raise EmailLinkUsed
        user = await self._set_email(user, record.new_email)
        await self.user_manager.emit_security_event(
            SecurityEventType.EMAIL_CHANGED, request, user_id=user.id, details={"via": "confirmed_change"}
        )
        await self.user_manager.on_after_update(user, {"email": record.new_email}, request)
        return user

    async def revert(self, secret: str, *, request: Request | None = None) -> EmailChangeReverted[UP]:
        """Cancel or undo the change whose revert link carries ``secret``; close the user's later changes.

        The password then becomes unusable (whoever asked for the change had signed in as the
        user: they likely know it; the owner sets a new one with "forgot password"), with the
        ``password_changed`` security event (``change=removed``), and every session of the user
        ends, on every backend the manager reaches: the token and
        session rows beside the user table, the request's strategies and stores and the
        manager's ``session_strategies`` / ``session_stores`` (the path a password reset takes),
        with the ``sessions_revoked`` security event. A restored address is verified again and
        emits ``email_changed``.

        Raises:
            EmailLinkInvalid: No such link, or the user is gone.
            EmailLinkUsed: The link was used, or a revert of another change closed it.
            EmailLinkExpired: The link is older than ``revert_lifetime``.
        """
        record = await self.store.find_by_revert(self.settings.digester.digests(secret, purpose=_REVERT))
        if record is None:
            raise EmailLinkInvalid
        if record.closed_at is not None:
            raise EmailLinkUsed
        now = self.clock()
        if now >= record.revert_expires_at:
            raise EmailLinkExpired
        user = await self.user_manager.user_db.get(record.user_id)
        if user is None:  # pragma: no cover - the row goes with its user (ON DELETE CASCADE, or the adapter on SQLite)
            raise EmailLinkInvalid
        # The address is put back whatever it is now: after a chain of changes, the first
        # owner's link restores the first owner's address.
        restore = user.email != record.old_email
        if not await self.store.revert(record.id, record.user_id, now=now):
            raise EmailLinkUsed
        result = await self._restore(user, record, request) if restore else None
        if result is None:
            result = EmailChangeReverted(user, user.email, record.new_email, restored=False)
        # Whoever asked for the change was signed in as the user, with a fresh sign-in: they
        # likely know the password. It becomes unusable (the owner sets a new one through "forgot
        # password", whose link now goes to the restored address) and every session ends,
        # restored or not, even when the address cannot come back (the owner's report stands; T40).
        user = await self.user_manager.user_db.update(result.user, {"hashed_password": make_unusable_password()})
        await self.user_manager.end_sessions(user, request)
        await self.user_manager.emit_security_event(
            SecurityEventType.PASSWORD_CHANGED,
            request,
            user_id=user.id,
            details={"change": "removed", "via": "reverted_change"},
        )
        return replace(result, user=user)

    async def _restore(self, user: UP, record: EmailChangeRecord, request: Request | None) -> EmailChangeReverted[UP]:
        try:
            await self._check_free(record.old_email, user)
            user = await self._set_email(user, record.old_email)
        except EmailAddressTaken:
            return EmailChangeReverted(user, user.email, record.new_email, restored=False, address_taken=True)
        await self.user_manager.emit_security_event(
            SecurityEventType.EMAIL_CHANGED, request, user_id=user.id, details={"via": "reverted_change"}
        )
        await self.user_manager.on_after_update(user, {"email": record.old_email}, request)
        return EmailChangeReverted(user, user.email, record.new_email, restored=True)

    def _fingerprint(self, user: UP) -> str:
        return self.settings.digester.digest(user.hashed_password, purpose=_BOUND_TO)[:_FINGERPRINT_LENGTH]

    async def _check_free(self, address: str, user: UP) -> None:
        owner = await self.user_manager.user_db.get_by_email(address)
        if owner is not None and owner.id != user.id:
            raise EmailAddressTaken

    async def _set_email(self, user: UP, address: str) -> UP:
        try:
            return await self.user_manager.user_db.update(user, {"email": address, "is_verified": True})
        except exceptions.UserAlreadyExists as exc:  # an account took it between the check and the write
            raise EmailAddressTaken from exc
