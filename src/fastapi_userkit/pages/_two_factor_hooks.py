"""What the sign-in and account pages ask of the two-factor pages, without importing them.

The two-factor pages need the ``mfa`` extra; the other pages do not. They reach them through
the dependencies below: the two-factor pages give real ones (``pages/_second_step.py``), an app
without two-factor login gets these, which change nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

__all__ = ["NO_TWO_FACTOR", "Confirm", "HandOff", "TwoFactorHooks", "go_on", "no_second_step", "no_two_factor_view"]

Confirm = Callable[[Request, Any], Awaitable[Response | None]]
"""Sends a user whose sign-in is not fresh enough to the "confirm it's you" page (``None``: go on)."""

HandOff = Callable[[Request, Any, Any, Any, str], Awaitable[Response | None]]
"""``(request, user_manager, user, second_step, next_url)``: the second-step page, or ``None`` to sign in."""


async def _never(_request: Request, _user: Any) -> Response | None:
    return None


async def go_on() -> Confirm:
    """The confirmation check of an app without two-factor login: never asks."""
    return _never


async def no_second_step() -> None:
    """The second-step helpers of an app without two-factor login: none."""
    return None


async def no_two_factor_view() -> None:
    """The account page's two-factor section of an app without two-factor login: none."""
    return None


@dataclass(frozen=True)
class TwoFactorHooks:
    """The two-factor pages' dependencies and hand-off, as the sign-in and account pages use them.

    Attributes:
        get_second_step: Dependency of the sign-in route: the request's second-step helpers.
        hand_off: Called after a right password (``None``: sign in at once).
        get_confirm: Dependency of the sensitive changes: the request's :data:`Confirm` check.
        get_view: Dependency of the account page: its two-factor section (``None``: none shown).
    """

    get_second_step: Callable[..., Any] = no_second_step
    hand_off: HandOff | None = None
    get_confirm: Callable[..., Any] = go_on
    get_view: Callable[..., Any] = no_two_factor_view


NO_TWO_FACTOR = TwoFactorHooks()
"""The hooks of an app without two-factor login: nothing changes."""
