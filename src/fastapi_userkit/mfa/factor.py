"""The second factor of the sign-in service: TOTP codes and recovery codes (issue 18)."""

from __future__ import annotations

from typing import Any

from fastapi_userkit.mfa.service import MFAMethod, MFAService

__all__ = ["TOTPSecondFactor"]


class TOTPSecondFactor:
    """The :class:`~fastapi_userkit._contracts.SecondFactor` of TOTP and recovery codes, over a service.

    Args:
        service: The request's second-factor service.
    """

    def __init__(self, service: MFAService) -> None:
        self.service = service

    async def required(self, user: Any) -> bool:
        """Whether ``user`` has a confirmed TOTP factor."""
        record = await self.service.store.get_totp(user.id)
        return record is not None and record.active

    async def verify(self, user: Any, code: str) -> MFAMethod:
        """Check and spend ``code``, a TOTP code or a recovery code; return which it was.

        Raises:
            MFANotEnabled: The user has no active factor.
            MFACodeReplayed: A TOTP code whose step was already accepted.
            InvalidMFACode: Any other wrong code.
        """
        return await self.service.verify(user.id, code)

    async def methods(self, user: Any) -> tuple[MFAMethod, ...]:
        """The methods the user can answer a challenge with."""
        return (await self.service.status(user.id)).methods
