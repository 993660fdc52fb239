"""What the account page asks of the e-mail change pages, without importing them.

The confirmed e-mail change (issue 20, T40) is on when the app gives the pages an
:class:`~fastapi_userkit.email_auth.EmailChangeService` dependency. The account page reaches
its forms through the dependency below: the e-mail change pages give a real one
(``pages/_email_change.py``); an app without it gets :func:`no_email_change`, and the account
page changes the address at once, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import BackgroundTasks, Request, Response

__all__ = ["NO_EMAIL_CHANGE", "EmailChangeForms", "EmailHooks", "no_email_change"]


class EmailChangeForms(Protocol):
    """The e-mail change as the account page uses it, for one request."""

    async def view(self, request: Request, user: Any) -> Any:
        """The account page's e-mail section: the pending change and what can be done with it."""
        ...  # pragma: no cover - protocol

    async def submit(
        self, request: Request, user: Any, user_manager: Any, form: dict[str, str], background_tasks: BackgroundTasks
    ) -> Response:
        """Answer the account page's e-mail form (checked for CSRF, signed in, fresh enough)."""
        ...  # pragma: no cover - protocol


async def no_email_change() -> None:
    """The e-mail change of an app that did not configure the confirmed change: none."""
    return None


@dataclass(frozen=True)
class EmailHooks:
    """The e-mail change pages' dependency, as the account page uses it.

    Attributes:
        get_change: Dependency of the account page and its e-mail form: the request's
            :class:`EmailChangeForms` (``None``: the address changes at once).
    """

    get_change: Callable[..., Any] = no_email_change


NO_EMAIL_CHANGE = EmailHooks()
"""The hooks of an app without the confirmed e-mail change: nothing changes."""
