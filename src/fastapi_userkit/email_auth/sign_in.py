"""Sign-in by e-mail: one e-mail carries a link and a short code; either signs in once.

The flow (issue 20):

1. :meth:`EmailSignInService.request` looks the address up and writes a pending sign-in for
   *every* address, known, unknown or inactive alike (for an address that gets no e-mail, a row
   nobody can use), so the work done before answering, and every later answer to a code for
   that address, is the same whatever the address (ASVS 5.0 6.3.8). Only the e-mail differs:
   it goes to a known active user, or to an unknown address when sign-up is on; the caller runs
   it after the response (``defer``), as ``/forgot-password`` runs its hook.
2. :meth:`EmailSignInService.complete_by_link` (the link, which a page POSTs: T35) or
   :meth:`EmailSignInService.complete_by_code` (the code, typed in the app, for at most
   ``max_attempts`` tries) spends the pending sign-in with one conditional write, so one use of
   either half ends both (T37). The caller then signs the user in through the backend, like a
   password login, and a user with a second factor must still pass it: the e-mail is one factor.

It knows nothing of HTTP or tokens: it raises the typed errors of
:mod:`fastapi_userkit.email_auth.exceptions` and the caller maps them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic
from urllib.parse import quote

from fastapi import Request

from fastapi_userkit import exceptions
from fastapi_userkit._contracts import SecondFactorRemoving
from fastapi_userkit._email_forms import login_email, lookalike_problem
from fastapi_userkit._oauth_accounts import PasskeyHolding, make_unusable_password
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.email_auth import tokens
from fastapi_userkit.email_auth.exceptions import (
    EmailAddressTaken,
    EmailCodeAttemptsExhausted,
    EmailCodeInvalid,
    EmailLinkExpired,
    EmailLinkInvalid,
    EmailLinkUsed,
)
from fastapi_userkit.email_auth.mail import EmailAuthMailer
from fastapi_userkit.email_auth.settings import EmailSignInSettings
from fastapi_userkit.email_auth.store import EmailSignInRecord, EmailSignInStore
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.security.events import SecurityEventType

__all__ = ["Clock", "Defer", "EmailSignInResult", "EmailSignInService"]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (tests inject one)."""

Defer = Callable[[Callable[[], Awaitable[None]]], object]
"""Runs a coroutine function later, e.g. ``BackgroundTasks.add_task``: after the response is sent."""

_LINK = "sign-in link"
_CODE = "sign-in code"
_EMAIL = "sign-in address"


@dataclass(frozen=True)
class EmailSignInResult(Generic[UP]):
    """Who signed in by e-mail, and what the first use did.

    Attributes:
        user: The user to sign in (through the backend, after a second factor if they have one).
        created: The account was created by this sign-in (``allow_sign_up``).
        verified: The address became verified by this sign-in (its first use proved it).
        password_cleared: The account had never been verified: its password was made unusable,
            its passkeys, second factor and OAuth accounts removed and its sessions ended
            (whoever set them up had not proved the address).
    """

    user: UP
    created: bool = False
    verified: bool = False
    password_cleared: bool = False


class EmailSignInService(Generic[UP, ID]):
    """Issues and checks sign-in e-mails (a link and a code) for one request.

    Args:
        store: Where pending sign-ins live (per request, like the user database).
        user_manager: The request's user manager.
        settings: The feature's settings; they must have ``enabled=True``.
        mailer: Sends the e-mails.
        clock: The current time; inject one in tests.
        passkeys: The request's :class:`~fastapi_userkit.passkeys.PasskeyService`, whose passkeys
            the first e-mail sign-in of a never-verified account deletes (the registrant's);
            ``None``: the user manager's ``passkeys``, if set. An app with passkey sign-up or
            passkeys on unverified accounts must give one of them.
        second_factors: The request's two-factor store (:class:`~fastapi_userkit.mfa.MFAStore`),
            whose factor the first e-mail sign-in of a never-verified account removes (the
            registrant's); ``None``: the user manager's ``second_factors``, if set. An app with
            two-factor login must give one of them.

    Raises:
        ConfigurationError: The settings do not enable sign-in by e-mail.
    """

    def __init__(
        self,
        store: EmailSignInStore,
        user_manager: BaseUserManager[UP, ID],
        settings: EmailSignInSettings,
        mailer: EmailAuthMailer,
        *,
        clock: Clock = now_utc,
        passkeys: PasskeyHolding | None = None,
        second_factors: SecondFactorRemoving | None = None,
    ) -> None:
        if not settings.enabled:
            raise ConfigurationError("Sign-in by e-mail is off: EmailSignInSettings(enabled=True) turns it on.")
        self.store = store
        self.user_manager = user_manager
        self.settings = settings
        self.mailer = mailer
        self.clock = clock
        self.passkeys = passkeys
        self.second_factors = second_factors

    def _email_key(self, email: str) -> str:
        # The form registration stores (NFC, domain in lower case), case-folded: a code typed
        # with another capitalisation of the address finds its sign-in.
        return self.settings.digester.digest(login_email(email).casefold(), purpose=_EMAIL)

    async def request(self, email: str, *, defer: Defer | None = None) -> None:
        """Issue a sign-in e-mail for ``email``; the same ``None`` for every address.

        Every address gets the same lookup and the same write; the e-mail goes to a known active
        user, or to an unknown address when ``allow_sign_up`` is on. A new request replaces the
        address's previous sign-in (its link and code stop working).

        Args:
            email: The address typed.
            defer: Runs the e-mail's delivery later (pass ``BackgroundTasks.add_task``, so the
                response time does not tell whether an e-mail went out); at once when ``None``.
        """
        address = login_email(email)
        try:
            user: UP | None = await self.user_manager.get_by_email(address)
        except exceptions.UserNotExists:
            user = None
        now = self.clock()
        sign_up = user is None and self.settings.allow_sign_up and lookalike_problem(address) is None
        record_id = uuid.uuid4()
        secret, code = tokens.new_link_secret(), tokens.new_code(self.settings.code_length)
        digester = self.settings.digester
        record = EmailSignInRecord(
            id=record_id,
            user_id=None if user is None else user.id,
            email=address if user is None else user.email,
            email_key=self._email_key(address),
            sign_up=sign_up,
            link_digest=digester.digest(secret, purpose=_LINK),
            code_digest=digester.digest(code, purpose=_CODE, context=str(record_id)),
            created_at=now,
            expires_at=now + self.settings.lifetime,
        )
        await self.store.begin(record)
        if not (sign_up or (user is not None and user.is_active)):
            return None

        async def send() -> None:
            await self.mailer.send(
                "email_sign_in",
                record.email,
                {
                    "link": self.settings.link_url.format(token=quote(secret, safe="")),
                    "code": code,
                    "lifetime_minutes": int(self.settings.lifetime.total_seconds() // 60),
                    "sign_up": sign_up,
                },
                when=now,
            )

        if defer is None:
            await send()
        else:
            defer(send)
        return None

    async def complete_by_link(self, secret: str, *, request: Request | None = None) -> EmailSignInResult[UP]:
        """Spend the sign-in whose link carries ``secret``; return its user.

        Raises:
            EmailLinkInvalid: No such link, or its account was deleted, deactivated, or changed
                address since the e-mail was sent.
            EmailLinkUsed: The link or its code was already used (or a newer e-mail replaced it).
            EmailLinkExpired: The link is older than the lifetime.
            EmailAddressTaken: A sign-up whose address became an account meanwhile.
        """
        record = await self.store.find_by_link(self.settings.digester.digests(secret, purpose=_LINK))
        if record is None:
            raise EmailLinkInvalid
        if record.used_at is not None:
            raise EmailLinkUsed
        if self.clock() >= record.expires_at:
            raise EmailLinkExpired
        return await self._finish(record, EmailLinkInvalid, request)

    async def complete_by_code(self, email: str, code: str, *, request: Request | None = None) -> EmailSignInResult[UP]:
        """Spend the sign-in of ``email`` if ``code`` is its code; return its user.

        Every try counts, right or wrong, malformed included; the ``max_attempts``-th wrong one
        leaves the e-mail useless. An address with no sign-in, a used one and a wrong code are
        one error, so the answers do not tell which addresses signed in by e-mail.

        Raises:
            EmailCodeInvalid: The code is wrong, or no live sign-in waits for the address.
            EmailCodeAttemptsExhausted: The sign-in has no attempts left.
            EmailLinkExpired: The sign-in is older than the lifetime.
            EmailAddressTaken: A sign-up whose address became an account meanwhile.
        """
        record = await self.store.find_by_email(self._email_key(email))
        if record is None or record.used_at is not None:
            raise EmailCodeInvalid
        if self.clock() >= record.expires_at:
            raise EmailLinkExpired
        if record.attempts >= self.settings.max_attempts:
            raise EmailCodeAttemptsExhausted
        if not await self.store.count_attempt(record, max_attempts=self.settings.max_attempts):
            # Concurrent tries took the last attempts, or a concurrent use spent the sign-in.
            latest = await self.store.find_by_email(record.email_key)
            if latest is None or latest.id != record.id or latest.used_at is not None:
                raise EmailCodeInvalid
            raise EmailCodeAttemptsExhausted
        typed = tokens.normalise_code(code, self.settings.code_length)
        digester = self.settings.digester
        if typed is None or not digester.matches(typed, record.code_digest, purpose=_CODE, context=str(record.id)):
            raise EmailCodeInvalid
        return await self._finish(record, EmailCodeInvalid, request)

    async def _finish(
        self, record: EmailSignInRecord, invalid: type[EmailLinkInvalid | EmailCodeInvalid], request: Request | None
    ) -> EmailSignInResult[UP]:
        if record.user_id is None:
            # A row written for an address that got no e-mail has no usable secret: refused like
            # a wrong code. A sign-up is refused too if the app turned sign-up off since.
            if not (record.sign_up and self.settings.allow_sign_up):
                raise invalid
            await self._consume(record)
            return EmailSignInResult(await self._sign_up(record, request), created=True, verified=True)
        try:
            user_id = self.user_manager.parse_id(record.user_id)  # a Redis store gives it back as text
        except exceptions.InvalidID as exc:  # pragma: no cover - only the library's stores write user ids
            raise invalid from exc
        user = await self.user_manager.user_db.get(user_id)
        # Bound to the address it was sent to (as verification tokens are, T39): after an e-mail
        # change, a link that went to the old address signs nobody in.
        if user is None or not user.is_active or user.email != record.email:
            raise invalid
        await self._consume(record)
        if user.is_verified:
            return EmailSignInResult(user)
        return await self._first_proof(user, request)

    async def _first_proof(self, user: UP, request: Request | None) -> EmailSignInResult[UP]:
        """The mailbox's owner proves a never-verified address: the manager's one rule for it.

        :meth:`~fastapi_userkit.BaseUserManager.prove_address` verifies the address and takes the
        account back from whoever registered it (password made unusable, passkeys, second factor
        and OAuth accounts removed, every session ended).
        """
        user = await self.user_manager.prove_address(
            user, request, via="email_sign_in", passkeys=self.passkeys, second_factors=self.second_factors
        )
        return EmailSignInResult(user, verified=True, password_cleared=True)

    async def _consume(self, record: EmailSignInRecord) -> None:
        if not await self.store.consume(record, now=self.clock()):
            # A concurrent use of the link or the code won (or the clock passed the expiry).
            raise EmailLinkUsed

    async def _sign_up(self, record: EmailSignInRecord, request: Request | None) -> UP:
        user_db = self.user_manager.user_db
        if await user_db.get_by_email(record.email) is not None:
            raise EmailAddressTaken
        try:
            # No password: the account signs in by e-mail (or sets one through a reset); the
            # address is verified, since using the e-mail proved it.
            user = await user_db.create(
                {"email": record.email, "hashed_password": make_unusable_password(), "is_verified": True}
            )
        except exceptions.UserAlreadyExists as exc:  # a registration won the race
            raise EmailAddressTaken from exc
        await self.user_manager.emit_security_event(
            SecurityEventType.REGISTERED, request, user_id=user.id, details={"via": "email_sign_in"}
        )
        await self.user_manager.on_after_register(user, request)
        return user
