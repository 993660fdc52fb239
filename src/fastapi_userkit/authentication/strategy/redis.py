"""Opaque tokens stored (as digests) in Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic

from fastapi_userkit import exceptions
from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.authentication.strategy._legacy import (
    is_legacy_token,
    legacy_digest,
    legacy_redis_user_id,
    legacy_redis_value_matches,
)
from fastapi_userkit.authentication.strategy._opaque import (
    assurance_of,
    backend_tag_of,
    digest,
    new_token,
    session_id_of,
    token_matches_credential,
)
from fastapi_userkit.authentication.strategy.base import AssuranceBoundStrategy, RevokeAllStrategy
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisStrategy"]


def _stored_form(token: str) -> str:
    """The key suffix of ``token``: its digest, or the legacy digest of a FastAPI Users token."""
    return legacy_digest(token) if is_legacy_token(token) else digest(token)


class RedisStrategy(AssuranceBoundStrategy[UP, ID], RevokeAllStrategy, Generic[UP, ID]):
    """Opaque tokens kept in Redis under the SHA-256 digest of the token.

    ``{key_prefix}{digest}`` holds the user id and expires with the token. A per-user set,
    ``{key_prefix}user:{id}``, lists the digests of the user's tokens so they can all be ended
    at once; its TTL is pushed to the lifetime of the newest token, so it never outlives them.
    Each write also drops from the set the digests of tokens whose keys have expired, so the
    set holds the user's live tokens and the few expired since the last login, never the
    history of every login (issue 16, item 9).
    A password change ends every token issued before it (see
    :mod:`~fastapi_userkit.authentication.strategy._opaque`).
    A token FastAPI Users issued (43 base64url characters) is looked up under its legacy digest,
    written by :func:`~fastapi_userkit.migrations.tokens.migrate_redis_tokens` at the move, whose
    value ``"<credential tag>:<user id>"`` binds it to the password hash as a new token is bound
    (see :mod:`~fastapi_userkit.authentication.strategy._legacy`).

    Args:
        redis: An asyncio Redis client (``decode_responses=True`` or not, both work), or a
            ``RedisCluster``: then give ``key_prefix`` a hash tag, such as ``"{userkit}:..."``,
            so the keys written together share a slot (issue 22).
        lifetime_seconds: Seconds a token stays valid; ``None`` for no limit. ``0`` is refused.
        key_prefix: Prefix of every key the strategy writes.

    Raises:
        ConfigurationError: A zero or negative lifetime.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis | redis.asyncio.RedisCluster,
        lifetime_seconds: int | None = None,
        *,
        key_prefix: str = "fastapi_users_token:",
    ) -> None:
        if lifetime_seconds is not None and lifetime_seconds <= 0:
            raise exceptions.ConfigurationError("lifetime_seconds must be positive (or None for no limit).")
        self.redis = redis
        self.lifetime_seconds = lifetime_seconds
        self.key_prefix = key_prefix

    def _token_key(self, token_digest: str) -> str:
        return f"{self.key_prefix}{token_digest}"

    def _user_key(self, user_id: Any) -> str:
        return f"{self.key_prefix}user:{user_id}"

    async def read_token(self, token: str | None, user_manager: BaseUserManager[UP, ID]) -> UP | None:
        """Return the token's user, or ``None`` if unknown, expired or older than a password change."""
        if token is None:
            return None
        legacy = is_legacy_token(token)
        value: Any = await self.redis.get(self._token_key(_stored_form(token)))
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode()
        # A token FastAPI Users issued (migrated, see _legacy): "<credential tag>:<user id>".
        user_id = legacy_redis_user_id(value) if legacy else value
        if user_id is None:
            return None
        try:
            user = await user_manager.get(user_manager.parse_id(user_id))
        except (exceptions.UserNotExists, exceptions.InvalidID):
            return None
        if legacy:
            current = legacy_redis_value_matches(value, user.hashed_password)
        else:
            current = token_matches_credential(token, user.hashed_password)
        return user if current else None

    async def write_token(
        self,
        user: UP,
        *,
        session_id: str | None = None,
        backend_tag: str | None = None,
        assurance: Assurance | None = None,
    ) -> str:
        """Issue a token for ``user`` (bound to ``session_id`` if given); store its digest and index it."""
        token = new_token(user.hashed_password, session_id, backend_tag, assurance)
        token_digest = digest(token)
        user_key = self._user_key(user.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._token_key(token_digest), str(user.id), ex=self.lifetime_seconds)
            pipe.sadd(user_key, token_digest)
            if self.lifetime_seconds is not None:
                # Only ever lengthen the set's TTL: GT keeps a longer one (Redis >= 7).
                pipe.expire(user_key, self.lifetime_seconds, gt=True)
                pipe.expire(user_key, self.lifetime_seconds, nx=True)
            else:
                pipe.persist(user_key)
            pipe.smembers(user_key)
            results = await pipe.execute()
        await self._prune_index(user_key, results[-1], token_digest)
        return token

    async def _prune_index(self, user_key: str, members: Any, written: str) -> None:
        """Drop from the user's index the digests whose token keys no longer exist (expired).

        A member is removed only when its key is gone, and a key is never written again once
        gone (its digest is of 256 fresh random bits): logout-all still finds every live token.
        One pipelined round trip of ``EXISTS``, and an ``SREM`` only when something expired.
        """
        others = [member.decode() if isinstance(member, bytes) else member for member in members]
        others = [member for member in others if member != written]
        if not others:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for member in others:
                pipe.exists(self._token_key(member))
            alive = await pipe.execute()
        expired = [member for member, exists in zip(others, alive, strict=True) if not exists]
        if expired:
            await self.redis.srem(user_key, *expired)

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
        """Delete the token's key and its index entry (a migrated FastAPI Users token's too)."""
        token_digest = _stored_form(token)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._token_key(token_digest))
            pipe.srem(self._user_key(user.id), token_digest)
            await pipe.execute()

    @property
    def can_destroy_all_tokens(self) -> bool:
        """Always: the per-user index names every token."""
        return True

    async def destroy_all_tokens(self, user: UP) -> None:
        """Delete every token of ``user`` and the user's index."""
        user_key = self._user_key(user.id)
        members = [m.decode() if isinstance(m, bytes) else m for m in await self.redis.smembers(user_key)]
        if not members:
            return
        # Remove exactly the members read, so a token written meanwhile stays indexed.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(self._token_key(member) for member in members))
            pipe.srem(user_key, *members)
            await pipe.execute()
