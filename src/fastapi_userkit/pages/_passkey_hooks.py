"""What the account page asks of the passkey pages, without importing them.

The passkey pages need the ``passkeys`` extra; the other pages do not. The account page reaches
their section through the dependency below: the passkey pages give a real one
(``pages/_passkeys.py``), an app without passkeys gets this one, which shows nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["NO_PASSKEYS", "PasskeyHooks", "no_passkeys_view"]


async def no_passkeys_view() -> None:
    """The account page's passkeys section of an app without passkeys: none."""
    return None


@dataclass(frozen=True)
class PasskeyHooks:
    """The passkey pages' dependency, as the account page uses it.

    Attributes:
        get_view: Dependency of the account page: its passkeys section (``None``: none shown).
    """

    get_view: Callable[..., Any] = no_passkeys_view


NO_PASSKEYS = PasskeyHooks()
"""The hooks of an app without passkeys: nothing changes."""
