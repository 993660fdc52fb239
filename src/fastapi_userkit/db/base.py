"""The storage protocol the manager talks to."""

from __future__ import annotations

from typing import Any, Generic

from fastapi_userkit.models import ID, OAP, UOAP, UP
from fastapi_userkit.types import DependencyCallable

__all__ = ["BaseUserDatabase", "UserDatabaseDependency"]


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


UserDatabaseDependency = DependencyCallable[BaseUserDatabase[UP, ID]]
