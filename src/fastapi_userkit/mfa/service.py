"""The second-factor service: TOTP enrolment, code verification, recovery codes, status.

It ties the pieces together for the routes, pages and sign-in service that call it: the secret is
generated (:mod:`~fastapi_userkit.mfa.totp`), encrypted for its user
(:class:`~fastapi_userkit.mfa.SecretBox`) and stored (:class:`~fastapi_userkit.mfa.MFAStore`);
a code is matched against the steps of the window, then the store's conditional write decides
whether it is a first use or a replay (RFC 6238 section 5.2; T41). Recovery codes are shown once,
digested with the same box's digest key, and spent with one conditional write (T42).

It knows nothing of HTTP, tokens or sessions: it raises the typed errors of
:mod:`fastapi_userkit.mfa.exceptions` and the caller maps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import anyio.to_thread

from fastapi_userkit.db._types import now_utc
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mfa import recovery, totp
from fastapi_userkit.mfa.exceptions import (
    InvalidMFACode,
    MFAAlreadyEnabled,
    MFACodeReplayed,
    MFAEnrolmentNotFound,
    MFANotEnabled,
)
from fastapi_userkit.mfa.secretbox import SecretBox
from fastapi_userkit.mfa.store import MFAStore, TOTPRecord

__all__ = ["Clock", "MFAMethod", "MFAService", "MFAStatus", "TOTPEnrolment", "check_options"]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (tests inject a fixed one)."""

MFAMethod = Literal["totp", "recovery_code"]

_TOTP_PURPOSE = "totp"
_RECOVERY_PURPOSE = "recovery_code"


@dataclass(frozen=True, repr=False)
class TOTPEnrolment:
    """What the user needs to add the factor to an authenticator app; shown once, never again.

    Attributes:
        secret: The base32 secret, for typing in by hand.
        uri: The ``otpauth://`` URI.
        qr_svg: The URI's QR code as an inline SVG element.
    """

    secret: str
    uri: str
    qr_svg: str

    def __repr__(self) -> str:  # a log line of the object must not carry the secret
        return "TOTPEnrolment(secret=<hidden>)"


@dataclass(frozen=True)
class MFAStatus:
    """A user's second factors, as ``GET /users/me/mfa`` shows them.

    Attributes:
        enabled: Whether an active factor protects sign-in.
        methods: The usable methods (``"totp"``, ``"recovery_code"`` while codes are left).
        recovery_codes_left: Unused recovery codes.
        enrolment_pending: Whether a TOTP enrolment waits for its confirming code.
    """

    enabled: bool
    methods: tuple[MFAMethod, ...]
    recovery_codes_left: int
    enrolment_pending: bool


def check_options(*, issuer: str, window: int, recovery_code_count: int, enrolment_lifetime: timedelta) -> None:
    """Check the service's options (also at wiring time, so a mistake fails before the first request).

    Raises:
        ConfigurationError: An empty issuer or one with ``:``, a window outside 0..1, fewer than 10
            recovery codes or a lifetime that is not positive.
    """
    if not issuer or ":" in issuer:
        # The Key URI Format separates issuer and account with ":" in the label.
        raise ConfigurationError("MFAService needs an issuer name without ':'.")
    if window not in {0, 1}:
        raise ConfigurationError("MFAService.window must be 0 or 1 (RFC 6238 section 5.2).")
    if recovery_code_count < recovery.DEFAULT_COUNT:
        raise ConfigurationError(f"MFAService needs at least {recovery.DEFAULT_COUNT} recovery codes (T42).")
    if enrolment_lifetime <= timedelta(0):
        raise ConfigurationError("MFAService.enrolment_lifetime must be positive.")


class MFAService:
    """Enrols, verifies and manages a user's TOTP factor and recovery codes.

    Args:
        store: Where factors live (per request, like the user database).
        box: Encrypts TOTP secrets and digests recovery codes.
        issuer: The name authenticator apps show next to the account (the application's name).
        clock: The current time; inject one in tests.
        window: Time steps accepted either side of the current one (0 or 1; RFC 6238 section 5.2).
        recovery_code_count: Codes issued at confirmation and on regeneration (at least 10, T42).
        enrolment_lifetime: How long a begun enrolment can be confirmed.

    Raises:
        ConfigurationError: An empty issuer, a window outside 0..1, fewer than 10 recovery codes or
            a lifetime that is not positive.
    """

    def __init__(
        self,
        store: MFAStore,
        box: SecretBox,
        *,
        issuer: str,
        clock: Clock = now_utc,
        window: int = 1,
        recovery_code_count: int = recovery.DEFAULT_COUNT,
        enrolment_lifetime: timedelta = timedelta(minutes=15),
    ) -> None:
        check_options(
            issuer=issuer, window=window, recovery_code_count=recovery_code_count, enrolment_lifetime=enrolment_lifetime
        )
        self.store = store
        self.box = box
        self.issuer = issuer
        self.clock = clock
        self.window = window
        self.recovery_code_count = recovery_code_count
        self.enrolment_lifetime = enrolment_lifetime

    async def begin_totp(self, user_id: Any, account_name: str) -> TOTPEnrolment:
        """Start a TOTP enrolment (replacing a pending one) and return the secret, URI and QR code.

        Raises:
            MFAAlreadyEnabled: The user already has an active TOTP factor.
        """
        secret = totp.new_secret()
        ciphertext = self.box.encrypt(secret, user_id=user_id, purpose=_TOTP_PURPOSE)
        if not await self.store.begin_enrolment(user_id, ciphertext, now=self.clock()):
            raise MFAAlreadyEnabled
        uri = totp.provisioning_uri(secret, account_name=account_name, issuer=self.issuer)
        # Drawing the QR code costs about 23 ms of CPU: a worker thread, not the event loop.
        qr_svg = await anyio.to_thread.run_sync(totp.qr_svg, uri)
        return TOTPEnrolment(secret=secret, uri=uri, qr_svg=qr_svg)

    async def confirm_totp(self, user_id: Any, code: str) -> list[str]:
        """Activate the pending factor with a first code; return the recovery codes (shown once).

        The confirming code's step becomes the last accepted one, so it cannot sign in later.

        Raises:
            MFAEnrolmentNotFound: No pending enrolment, or it is older than the enrolment lifetime.
            MFAAlreadyEnabled: The factor is already active.
            InvalidMFACode: The code does not match the secret.
        """
        record = await self.store.get_totp(user_id)
        now = self.clock()
        if record is None:
            raise MFAEnrolmentNotFound
        if record.active:
            raise MFAAlreadyEnabled
        if now - record.created_at > self.enrolment_lifetime:
            raise MFAEnrolmentNotFound
        steps = totp.matching_steps(self._secret(record), code, now=now, window=self.window)
        if not steps:
            raise InvalidMFACode
        codes = recovery.generate_codes(self.recovery_code_count)
        digests = [self._digest(user_id, code) for code in codes]
        # The oldest matched step, as in verify(): only two colliding codes make it differ from the newest.
        if not await self.store.confirm_enrolment(
            user_id, secret=record.secret, step=min(steps), now=now, recovery_digests=digests
        ):
            # A concurrent confirmation won, or the enrolment was replaced or removed meanwhile.
            raise MFAEnrolmentNotFound
        return codes

    async def verify(self, user_id: Any, code: str) -> MFAMethod:
        """Check a TOTP code or a recovery code of the user and spend it; return which it was.

        Six digits are a TOTP code; anything else is tried as a recovery code.

        Raises:
            MFANotEnabled: The user has no active factor.
            MFACodeReplayed: A TOTP code whose time step was already accepted.
            InvalidMFACode: Any other wrong code (a recovery code already used included).
        """
        record = await self.store.get_totp(user_id)
        if record is None or not record.active:
            raise MFANotEnabled
        now = self.clock()
        if totp.normalise_code(code) is not None:
            await self._verify_totp(record, code, now)
            return "totp"
        normalised = recovery.normalise_recovery_code(code)
        if normalised is None:
            raise InvalidMFACode
        digests = self.box.digests(normalised, user_id=user_id, purpose=_RECOVERY_PURPOSE)
        if not await self.store.consume_recovery_code(user_id, digests, now=now):
            raise InvalidMFACode
        return "recovery_code"

    async def _verify_totp(self, record: TOTPRecord, code: str, now: datetime) -> None:
        steps = totp.matching_steps(self._secret(record), code, now=now, window=self.window)
        if not steps:
            raise InvalidMFACode
        fresh = [step for step in steps if record.last_step is None or step > record.last_step]
        # The oldest fresh step: accepting a later one would lock out the real code of an earlier step.
        if not fresh or not await self.store.accept_step(record.user_id, min(fresh)):
            raise MFACodeReplayed
        if self.box.needs_rotation(record.secret):
            # Key rotation happens as factors are used; a lost race just leaves it for next time.
            await self.store.replace_secret(
                record.user_id,
                record.secret,
                self.box.rotate(record.secret, user_id=record.user_id, purpose=_TOTP_PURPOSE),
            )

    async def regenerate_recovery_codes(self, user_id: Any) -> list[str]:
        """Replace every recovery code of the user with new ones, returned once.

        Raises:
            MFANotEnabled: The user has no active factor.
        """
        record = await self.store.get_totp(user_id)
        if record is None or not record.active:
            raise MFANotEnabled
        codes = recovery.generate_codes(self.recovery_code_count)
        await self.store.replace_recovery_codes(
            user_id, [self._digest(user_id, code) for code in codes], now=self.clock()
        )
        return codes

    async def disable(self, user_id: Any) -> None:
        """Remove the user's TOTP factor (active or pending) and recovery codes.

        Raises:
            MFANotEnabled: There was nothing to remove.
        """
        if not await self.store.remove(user_id):
            raise MFANotEnabled

    async def status(self, user_id: Any) -> MFAStatus:
        """The user's factors and how many recovery codes are left."""
        record = await self.store.get_totp(user_id)
        enabled = record is not None and record.active
        left = await self.store.count_remaining(user_id) if enabled else 0
        methods: tuple[MFAMethod, ...] = ()
        if enabled:
            methods = ("totp", "recovery_code") if left else ("totp",)
        return MFAStatus(
            enabled=enabled,
            methods=methods,
            recovery_codes_left=left,
            enrolment_pending=record is not None and not record.active,
        )

    def _secret(self, record: TOTPRecord) -> str:
        return self.box.decrypt(record.secret, user_id=record.user_id, purpose=_TOTP_PURPOSE)

    def _digest(self, user_id: Any, code: str) -> str:
        # The canonical form of a code from generate_codes is its display form without the dash.
        return self.box.digest(code.replace("-", ""), user_id=user_id, purpose=_RECOVERY_PURPOSE)
