"""A stand-in for a user's authenticator app, for applications that turn two-factor login on.

:class:`TOTPDevice` computes the codes an authenticator app would show for an enrolled secret. The
server accepts each time step once (RFC 6238 section 5.2: a code must not be used twice), so the
device remembers the last step it gave and gives the next unused step within the server's
window; a test that needs more codes than the window holds advances the plugin's clock instead
of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from fastapi_userkit.testing._app import UserkitTestApp, resolve_dependency

__all__ = ["TOTPDevice", "enrol_totp_device"]

STEP_SECONDS = 30  # RFC 6238 section 4: the default time step, the one authenticator apps use


@dataclass
class TOTPDevice:
    """The codes of one enrolled TOTP secret, as the user's authenticator app shows them.

    Attributes:
        secret: The base32 secret the enrolment showed.
        recovery_codes: The recovery codes the confirmation returned (shown once to the user).
        clock: The time the application reads (give its ``MFA(clock=...)``); real time by default.
        window: Steps the server accepts either side of the current one (``MFA.window``).
    """

    secret: str
    recovery_codes: list[str] = field(default_factory=list)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    window: int = 1
    last_step: int | None = None

    def code(self) -> str:
        """The code for the earliest step the server has not accepted yet, marked as used.

        Raises:
            RuntimeError: Every step within the window was used: advance the clock
                (``clock.advance(30)``) before asking for another code.
        """
        import pyotp  # the ``mfa`` extra: imported here so the plugin loads without it

        current = int(self.clock().timestamp()) // STEP_SECONDS
        step = current if self.last_step is None else max(current - self.window, self.last_step + 1)
        if step > current + self.window:
            raise RuntimeError(
                "TOTPDevice: every code within the server's window was used; advance the clock by "
                f"{STEP_SECONDS} seconds (clock.advance({STEP_SECONDS})) for the next one"
            )
        self.last_step = step
        return pyotp.TOTP(self.secret).at(step * STEP_SECONDS)

    def recovery_code(self) -> str:
        """One of the recovery codes not handed out yet (each works once).

        Raises:
            RuntimeError: None is left.
        """
        if not self.recovery_codes:
            raise RuntimeError("TOTPDevice: no recovery code left")
        return self.recovery_codes.pop(0)


async def enrol_totp_device(userkit_app: UserkitTestApp, user: Any) -> TOTPDevice:
    """Enrol and confirm ``user``'s TOTP factor through the app's own two-factor settings.

    Raises:
        pytest.UsageError: The app has no ``FastAPIUsers(mfa=...)``.
    """
    mfa = userkit_app.fastapi_users.mfa
    if mfa is None:
        raise pytest.UsageError("enrol_totp needs an application with FastAPIUsers(mfa=...)")
    async with AsyncExitStack() as stack:
        service = await resolve_dependency(userkit_app.app, mfa.service_dependency(), stack)
        enrolment = await service.begin_totp(user.id, user.email)
        device = TOTPDevice(enrolment.secret, clock=mfa.clock, window=mfa.window)
        device.recovery_codes = await service.confirm_totp(user.id, device.code())
    return device
