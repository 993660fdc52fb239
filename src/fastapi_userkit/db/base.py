"""The storage protocol the manager talks to."""

from __future__ import annotations

from typing import Any, Generic, Protocol, runtime_checkable

from fastapi_userkit.models import ID, OAP, UOAP, UP
from fastapi_userkit.types import DependencyCallable

__all__ = ["BaseUserDatabase", "UserDatabaseDependency", "UserSessionsDatabase"]


class BaseUserDatabase(Generic[UP, ID]):
    """Storage of users (and, optionally, their OAuth accounts).

    Every method raises :class:`NotImplementedError` here; adapters override what they support.
    ``create`` and ``update`` must raise :class:`~fastapi_userkit.exceptions.UserAlreadyExists`
    when the e-mail address is taken, whatever its letter case.
    """

    async def get(self, id: ID) -> UP | None:
        """Return the user with this id, or ``None``."""
        raise NotImplementedError

    async def get_by_email(self, email: str) -> UP | None:
        """Return the user with this e-mail address (case-insensitively), or ``None``."""
        raise NotImplementedError

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> UP | None:
        """Return the user linked to this provider account, or ``None``."""
        raise NotImplementedError

    async def create(self, create_dict: dict[str, Any]) -> UP:
        """Create a user."""
        raise NotImplementedError

    async def update(self, user: UP, update_dict: dict[str, Any]) -> UP:
        """Update a user."""
        raise NotImplementedError

    async def delete(self, user: UP) -> None:
        """Delete a user."""
        raise NotImplementedError

    async def add_oauth_account(self: BaseUserDatabase[UOAP, ID], user: UOAP, create_dict: dict[str, Any]) -> UOAP:
        """Link an OAuth account to a user."""
        raise NotImplementedError

    async def update_oauth_account(
        self: BaseUserDatabase[UOAP, ID],
        user: UOAP,
        oauth_account: OAP,
        update_dict: dict[str, Any],
    ) -> UOAP:
        """Update a linked OAuth account."""
        raise NotImplementedError


@runtime_checkable
class UserSessionsDatabase(Protocol):
    """A user storage that can also end a user's stored sessions (new in fastapi-userkit).

    The manager asks it whenever a user is deactivated or deleted, so the token rows of the
    application's tables go whatever the caller (a route, the CLI, a job with no request).
    """

    async def delete_user_sessions(self, user_id: Any) -> None:
        """Delete the access tokens and refresh sessions stored for the user."""
        ...  # pragma: no cover - protocol


@runtime_checkable
class ConditionalUserUpdate(Protocol):
    """A user storage that can update a user only if columns still hold what was read (new in fastapi-userkit).

    Reset and verification tokens are checked against the user (its password hash, its
    ``is_verified``), then the user is written. The manager makes that write conditional on what
    the check saw, so simultaneous uses of one token, on separate connections or workers,
    succeed once (issue 22). A storage without it keeps the plain check-then-write.
    """

    async def update_if(self, user: Any, expected: dict[str, Any], update_dict: dict[str, Any]) -> Any | None:
        """Apply ``update_dict`` if the user's columns still equal ``expected``; else ``None``."""
        ...  # pragma: no cover - protocol


UserDatabaseDependency = DependencyCallable[BaseUserDatabase[UP, ID]]
