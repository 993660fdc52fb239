"""Typing protocols for the user and OAuth-account objects the library works with.

Nothing here exists at run time beyond the protocols: any object with these attributes
(an SQLAlchemy row built from our mixins, a dataclass in a test) is a user.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

ID = TypeVar("ID")
OAP = TypeVar("OAP", bound="OAuthAccountProtocol")  # type: ignore[type-arg]  # compat: unparameterised bound, as in FastAPI Users


class UserProtocol(Protocol[ID]):
    """A user: id, e-mail, password hash and three flags."""

    id: ID
    email: str
    hashed_password: str
    is_active: bool
    is_superuser: bool
    is_verified: bool


class OAuthAccountProtocol(Protocol[ID]):
    """An account at an OAuth provider linked to a user."""

    id: ID
    oauth_name: str
    access_token: str
    expires_at: int | None
    refresh_token: str | None
    account_id: str
    account_email: str


UP = TypeVar("UP", bound=UserProtocol)  # type: ignore[type-arg]  # compat: FastAPI Users' unparameterised bound


class UserOAuthProtocol(UserProtocol[ID], Generic[ID, OAP]):
    """A user that carries its linked OAuth accounts."""

    oauth_accounts: list[OAP]


UOAP = TypeVar("UOAP", bound=UserOAuthProtocol)  # type: ignore[type-arg]  # compat, as above

__all__ = [
    "ID",
    "OAP",
    "UOAP",
    "UP",
    "OAuthAccountProtocol",
    "UserOAuthProtocol",
    "UserProtocol",
]
