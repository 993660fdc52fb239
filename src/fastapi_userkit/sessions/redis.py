"""Redis storage of sessions and refresh-token digests.

Keys, all under ``key_prefix``:

* ``session:{id}`` — a hash with the session's fields (with ``aal`` and ``auth_time``, how the
  user signed in; a hash from before issue 18 has neither and reads as level 1 at an unknown
  time); expires with the session;
* ``session:{id}:tokens`` — the digests of the session's refresh tokens, to delete them with it;
* ``refresh:{digest}`` — a hash ``{session_id, rotated_at}`` per refresh token (``rotated_at``
  empty while current); expires with its session;
* ``user:{id}`` — the ids of the user's sessions; its TTL follows the longest-lived session.

Rotation is one Lua script, so it is atomic across workers: only the call that still finds the
parent unrotated retires it and stores the child.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi_userkit.sessions.models import RefreshTokenRecord, SessionRecord

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisSessionStore"]

# KEYS: parent token, child token, session, session's token set.
# ARGV: session id, now, child digest, ttl seconds, ip address, user agent.
_ROTATE = """
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'session_id') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'rotated_at') ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'rotated_at', ARGV[2])
redis.call('HSET', KEYS[2], 'session_id', ARGV[1], 'rotated_at', '')
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('HSET', KEYS[3], 'last_used_at', ARGV[2], 'ip_address', ARGV[5], 'user_agent', ARGV[6])
return 1
"""

# KEYS: session. ARGV: aal, auth_time ('' when unknown). A session that has ended stays ended:
# an HSET alone would bring back a bare hash without its expiry.
_SET_ASSURANCE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'aal', ARGV[1], 'auth_time', ARGV[2])
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _time(value: datetime) -> str:
    return repr(value.timestamp())


def _parse_time(value: Any) -> datetime:
    return datetime.fromtimestamp(float(_text(value)), UTC)


class RedisSessionStore:
    """A :class:`~fastapi_userkit.sessions.SessionStore` in Redis (7 or later).

    Args:
        redis: An asyncio Redis client (``decode_responses=True`` or not, both work), or a
            ``RedisCluster``: then give ``key_prefix`` a hash tag, such as ``"{userkit}:..."``,
            so the keys written together share a slot (issue 22).
        key_prefix: Prefix of every key the store writes.
    """

    def __init__(
        self, redis: redis.asyncio.Redis | redis.asyncio.RedisCluster, *, key_prefix: str = "fastapi_userkit_session:"
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self._rotate_script = redis.register_script(_ROTATE)
        self._set_assurance_script = redis.register_script(_SET_ASSURANCE)

    def _session_key(self, session_id: Any) -> str:
        return f"{self.key_prefix}session:{session_id}"

    def _tokens_key(self, session_id: Any) -> str:
        return f"{self.key_prefix}session:{session_id}:tokens"

    def _token_key(self, refresh_digest: str) -> str:
        return f"{self.key_prefix}refresh:{refresh_digest}"

    def _user_key(self, user_id: Any) -> str:
        return f"{self.key_prefix}user:{user_id}"

    @staticmethod
    def _ttl(session: SessionRecord, now: datetime) -> int:
        return max(1, math.ceil((session.expires_at - now).total_seconds()))

    async def create(self, session: SessionRecord, refresh_digest: str) -> None:
        """Store the session, its first refresh token and its place in the user's index."""
        ttl = self._ttl(session, session.created_at)
        session_key, user_key = self._session_key(session.id), self._user_key(session.user_id)
        fields: dict[Any, Any] = {
            "user_id": str(session.user_id),
            "created_at": _time(session.created_at),
            "last_used_at": _time(session.last_used_at),
            "expires_at": _time(session.expires_at),
            "ip_address": session.ip_address or "",
            "user_agent": session.user_agent or "",
            "credential": session.credential,
            "aal": str(session.aal),
            "auth_time": "" if session.auth_time is None else str(session.auth_time),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(session_key, mapping=fields)
            pipe.expire(session_key, ttl)
            pipe.hset(self._token_key(refresh_digest), mapping={"session_id": str(session.id), "rotated_at": ""})
            pipe.expire(self._token_key(refresh_digest), ttl)
            pipe.sadd(self._tokens_key(session.id), refresh_digest)
            pipe.expire(self._tokens_key(session.id), ttl)
            pipe.sadd(user_key, str(session.id))
            # Only ever lengthen the index's TTL: GT keeps a longer one, NX sets a first one.
            pipe.expire(user_key, ttl, gt=True)
            pipe.expire(user_key, ttl, nx=True)
            await pipe.execute()

    def _record(self, session_id: uuid.UUID, fields: dict[Any, Any]) -> SessionRecord:
        values = {_text(key): _text(value) for key, value in fields.items()}
        return SessionRecord(
            id=session_id,
            user_id=values["user_id"],
            created_at=_parse_time(values["created_at"]),
            last_used_at=_parse_time(values["last_used_at"]),
            expires_at=_parse_time(values["expires_at"]),
            ip_address=values.get("ip_address") or None,
            user_agent=values.get("user_agent") or None,
            credential=values["credential"],
            aal=int(values.get("aal") or 1),
            auth_time=int(values["auth_time"]) if values.get("auth_time") else None,
        )

    async def get(self, session_id: uuid.UUID) -> SessionRecord | None:
        """Return the session (one ``HGETALL``)."""
        fields = await self.redis.hgetall(self._session_key(session_id))
        return self._record(session_id, fields) if fields else None

    async def get_refresh_token(self, refresh_digest: str) -> RefreshTokenRecord | None:
        """Return the refresh token with this digest."""
        fields = await self.redis.hgetall(self._token_key(refresh_digest))
        if not fields:
            return None
        values = {_text(key): _text(value) for key, value in fields.items()}
        rotated_at = _parse_time(values["rotated_at"]) if values.get("rotated_at") else None
        return RefreshTokenRecord(refresh_digest, uuid.UUID(values["session_id"]), rotated_at)

    async def rotate(
        self,
        session_id: uuid.UUID,
        parent_digest: str,
        child_digest: str,
        *,
        now: datetime,
        ip_address: str | None,
        user_agent: str | None,
    ) -> bool:
        """Retire the parent and store the child in one atomic script."""
        session = await self.get(session_id)
        if session is None:
            return False
        keys = [
            self._token_key(parent_digest),
            self._token_key(child_digest),
            self._session_key(session_id),
            self._tokens_key(session_id),
        ]
        args: list[str | int] = [
            str(session_id),
            _time(now),
            child_digest,
            self._ttl(session, now),
            ip_address or "",
            user_agent or "",
        ]
        return int(await self._rotate_script(keys=keys, args=args)) == 1

    async def set_assurance(self, session_id: uuid.UUID, aal: int, auth_time: int | None) -> bool:
        """Record a re-authentication in the session's hash (one atomic script)."""
        args = [str(aal), "" if auth_time is None else str(auth_time)]
        return int(await self._set_assurance_script(keys=[self._session_key(session_id)], args=args)) == 1

    async def list_for_user(self, user_id: Any) -> list[SessionRecord]:
        """Return the user's sessions, newest first; ids of expired sessions leave the index."""
        user_key = self._user_key(user_id)
        ids = [uuid.UUID(_text(member)) for member in await self.redis.smembers(user_key)]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hgetall(self._session_key(session_id))
            results = await pipe.execute()
        sessions = [self._record(sid, fields) for sid, fields in zip(ids, results, strict=True) if fields]
        gone = [str(sid) for sid, fields in zip(ids, results, strict=True) if not fields]
        if gone:
            await self.redis.srem(user_key, *gone)
        return sorted(sessions, key=lambda session: (session.created_at, str(session.id)), reverse=True)

    async def _delete_sessions(self, user_id: Any | None, session_ids: list[uuid.UUID]) -> int:
        if not session_ids:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.smembers(self._tokens_key(session_id))
            token_sets = await pipe.execute()
        async with self.redis.pipeline(transaction=True) as pipe:
            for session_id, digests in zip(session_ids, token_sets, strict=True):
                pipe.delete(self._session_key(session_id), self._tokens_key(session_id))
                if digests:
                    pipe.delete(*(self._token_key(_text(item)) for item in digests))
                if user_id is not None:
                    pipe.srem(self._user_key(user_id), str(session_id))
            results = await pipe.execute()
        # Each session contributes its DEL count first: 1 or 2 keys when it existed.
        deleted, index = 0, 0
        for digests in token_sets:
            deleted += 1 if int(results[index]) > 0 else 0
            index += 1 + (1 if digests else 0) + (1 if user_id is not None else 0)
        return deleted

    async def delete(self, session_id: uuid.UUID) -> bool:
        """Delete the session, its refresh tokens and its index entry."""
        session = await self.get(session_id)
        if session is None:
            return False
        return await self._delete_sessions(session.user_id, [session_id]) > 0

    async def delete_for_user(self, user_id: Any, *, keep: uuid.UUID | None = None) -> int:
        """Delete the user's sessions but ``keep``, with their refresh tokens."""
        members = [uuid.UUID(_text(member)) for member in await self.redis.smembers(self._user_key(user_id))]
        return await self._delete_sessions(user_id, [sid for sid in members if sid != keep])
