"""Opaque tokens stored (as digests) in a database table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, runtime_checkable

from fastapi_userkit import exceptions
from fastapi_userkit._contracts import purges_expired_tokens
from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.authentication.strategy._legacy import is_legacy_token, legacy_digest
from fastapi_userkit.authentication.strategy._opaque import (
    assurance_of,
    backend_tag_of,
    digest,
    new_token,
    session_id_of,
    token_matches_credential,
)
from fastapi_userkit.authentication.strategy.base import (
    AssuranceBoundStrategy,
    RevokeAllStrategy,
    StrategyDestroyNotSupportedError,
)
from fastapi_userkit.authentication.strategy.db.models import AP, AccessTokenDatabase
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP

__all__ = ["DatabaseStrategy"]


def _stored_form(token: str) -> str:
    """What the table holds for ``token``: its digest, or the legacy digest of a FastAPI Users token."""
    return legacy_digest(token) if is_legacy_token(token) else digest(token)


@runtime_checkable
class _DeletesByUser(Protocol):
    """Access-token storage that can delete every token of a user (the SQLAlchemy adapter can)."""

    async def delete_by_user(self, user_id: Any) -> object: ...  # pragma: no cover - protocol


class DatabaseStrategy(AssuranceBoundStrategy[UP, ID], RevokeAllStrategy, Generic[UP, ID, AP]):
    """Opaque tokens whose SHA-256 digests are rows of an access-token table.

    The client gets 256 random bits (plus a tag of the password hash, see
    :mod:`~fastapi_userkit.authentication.strategy._opaque`); the table's ``token`` column gets
    the digest (43 characters, the contract's column size), so a dump of the table cannot be
    replayed. A password change ends every token issued before it.

    A token FastAPI Users issued (43 base64url characters) is looked up by its legacy digest,
    written by :func:`~fastapi_userkit.migrations.tokens.migrate_sql_tokens` at the move; its row
    is deleted at logout, "log out everywhere", a password change or reset, a deactivation and a
    deletion (see :mod:`~fastapi_userkit.authentication.strategy._legacy`).

    Args:
        database: The access-token storage.
        lifetime_seconds: Seconds a token stays valid; ``None`` for no limit. ``0`` is refused.
        clock: Returns the current time (UTC); injectable for tests.

    Raises:
        ConfigurationError: A zero or negative lifetime.
    """

    def __init__(
        self,
        database: AccessTokenDatabase[AP],
        lifetime_seconds: int | None = None,
        *,
        clock: Any = now_utc,
    ) -> None:
        if lifetime_seconds is not None and lifetime_seconds <= 0:
            raise exceptions.ConfigurationError("lifetime_seconds must be positive (or None for no limit).")
        self.database = database
        self.lifetime_seconds = lifetime_seconds
        self.clock = clock

    def _max_age(self) -> datetime | None:
        if self.lifetime_seconds is None:
            return None
        now: datetime = self.clock()
        return now - timedelta(seconds=self.lifetime_seconds)

    async def read_token(self, token: str | None, user_manager: BaseUserManager[UP, ID]) -> UP | None:
        """Return the token's user, or ``None`` if unknown, expired or older than a password change."""
        if token is None:
            return None
        legacy = is_legacy_token(token)
        access_token = await self.database.get_by_token(_stored_form(token), self._max_age())
        if access_token is None:
            return None
        try:
            parsed_id = user_manager.parse_id(access_token.user_id)
            user = await user_manager.get(parsed_id)
        except (exceptions.UserNotExists, exceptions.InvalidID):
            return None
        # A token FastAPI Users issued (migrated, see _legacy) has no credential tag: its row is
        # deleted at every password change, reset, deactivation and deletion instead.
        if not legacy and not token_matches_credential(token, user.hashed_password):
            return None
        return user

    async def write_token(
        self,
        user: UP,
        *,
        session_id: str | None = None,
        backend_tag: str | None = None,
        assurance: Assurance | None = None,
    ) -> str:
        """Issue a token for ``user`` (bound to ``session_id`` if given) and store its digest."""
        token = new_token(user.hashed_password, session_id, backend_tag, assurance)
        await self.database.create(self._create_access_token_dict(user, digest(token)))
        return token

    def session_id_of(self, token: str) -> str | None:
        """The session an accepted token is bound to (refresh on), or ``None``."""
        return session_id_of(token)

    def backend_tag_of(self, token: str) -> str | None:
        """The tag of the backend that issued an accepted token, or ``None``."""
        return backend_tag_of(token)

    def assurance_of(self, token: str) -> Assurance:
        """The assurance an accepted token carries (covered by its stored digest), see ``_opaque``."""
        return assurance_of(token)

    async def destroy_token(self, token: str, user: UP) -> None:
        """Delete the token's row (a migrated FastAPI Users token's too)."""
        access_token = await self.database.get_by_token(_stored_form(token))
        if access_token is not None:
            await self.database.delete(access_token)

    @property
    def can_destroy_all_tokens(self) -> bool:
        """Whether the access-token storage can delete a user's tokens in one go."""
        return isinstance(self.database, _DeletesByUser)

    async def destroy_all_tokens(self, user: UP) -> None:
        """Delete every token of ``user`` (one indexed ``DELETE``).

        Raises:
            StrategyDestroyNotSupportedError: The storage cannot delete by user.
        """
        if not isinstance(self.database, _DeletesByUser):
            raise StrategyDestroyNotSupportedError("This access-token database cannot delete tokens by user.")
        await self.database.delete_by_user(user.id)

    async def purge_expired(self) -> int:
        """Delete the rows of expired tokens; return how many (0 without a lifetime).

        Raises:
            StrategyDestroyNotSupportedError: The storage cannot delete expired rows.
        """
        max_age = self._max_age()
        if max_age is None:
            return 0
        database = self.database
        if not purges_expired_tokens(database):
            raise StrategyDestroyNotSupportedError("This access-token database cannot purge expired tokens.")
        return await database.delete_expired(max_age)

    def _create_access_token_dict(self, user: UP, token_digest: str) -> dict[str, Any]:
        """The new row; override to add columns (the documented extension point)."""
        return {"token": token_digest, "user_id": user.id, "created_at": self.clock()}
