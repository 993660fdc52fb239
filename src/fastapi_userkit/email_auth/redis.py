"""A Redis implementation of :class:`~fastapi_userkit.email_auth.EmailSignInStore` (the ``redis`` extra).

One hash per address (``{prefix}email:{email_key}``) holds the pending sign-in, and one string
per link (``{prefix}link:{link_digest}``) points at it; both expire with the sign-in (plus a
grace period, so a late use is told "expired" rather than "invalid"). Each decision is one Lua
script, which Redis runs atomically, so of concurrent uses of the link and the code exactly one
succeeds and concurrent wrong codes never pass the cap, on any number of workers.

On a Redis Cluster give the prefix a hash tag (``"{userkit}:email_sign_in:"``): a replacement
writes the address's hash and the new link's key in one script.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi_userkit.email_auth.store import EmailSignInRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisEmailSignInStore"]

GRACE = timedelta(minutes=10)
"""How long a sign-in's keys outlive its expiry (to answer "expired" to a late use)."""

# KEYS[1] the address's hash, KEYS[2] the new link's key; ARGV[1] lifetime in ms, ARGV[2] the
# address key, then field/value pairs. Replacing the hash orphans the previous link's key,
# which find_by_link recognises (its hash names another link) and Redis expires.
_BEGIN = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
return 1
"""

# KEYS[1] the address's hash; ARGV: the sign-in's id, the attempt cap.
_COUNT_ATTEMPT = """
local f = redis.call('HMGET', KEYS[1], 'id', 'used_at', 'attempts')
if f[1] ~= ARGV[1] or f[2] ~= '' or tonumber(f[3]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return 1
"""

# KEYS[1] the address's hash; ARGV: the sign-in's id, now in microseconds since the epoch.
_CONSUME = """
local f = redis.call('HMGET', KEYS[1], 'id', 'used_at', 'expires_at')
if f[1] ~= ARGV[1] or f[2] ~= '' or tonumber(f[3]) <= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'used_at', ARGV[2])
return 1
"""


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(micros: str) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisEmailSignInStore:
    """Stores pending sign-ins by e-mail in Redis.

    Args:
        redis: A ``redis.asyncio`` client (``decode_responses`` either way).
        key_prefix: Prefix of the keys (with a hash tag on a Redis Cluster).

    The user id comes back as text; the service parses it with the manager's ``parse_id``.
    Expired sign-ins are removed by Redis itself: :meth:`delete_expired` has nothing to do.
    """

    def __init__(self, redis: Redis, *, key_prefix: str = "fastapi_userkit:email_sign_in:") -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self._begin = redis.register_script(_BEGIN)
        self._count_attempt = redis.register_script(_COUNT_ATTEMPT)
        self._consume = redis.register_script(_CONSUME)

    def _email(self, email_key: str) -> str:
        return f"{self.key_prefix}email:{email_key}"

    def _link(self, digest: str) -> str:
        return f"{self.key_prefix}link:{digest}"

    async def begin(self, record: EmailSignInRecord) -> None:
        """Replace the address's hash and point the new link at it, in one script."""
        fields = {
            "id": str(record.id),
            "user_id": "" if record.user_id is None else str(record.user_id),
            "email": record.email,
            "email_key": record.email_key,
            "sign_up": "1" if record.sign_up else "0",
            "link_digest": record.link_digest,
            "code_digest": record.code_digest,
            "created_at": _micros(record.created_at),
            "expires_at": _micros(record.expires_at),
            "attempts": record.attempts,
            "used_at": "" if record.used_at is None else _micros(record.used_at),
        }
        # The lifetime is the record's own (expires_at - created_at), not an absolute time: the
        # service's clock may be a test's, Redis's is the server's.
        lifetime = int((record.expires_at - record.created_at + GRACE).total_seconds() * 1000)
        pairs = [item for pair in fields.items() for item in pair]
        await self._begin(
            keys=[self._email(record.email_key), self._link(record.link_digest)],
            args=[lifetime, record.email_key, *pairs],
        )

    async def _read(self, email_key: str) -> EmailSignInRecord | None:
        raw = await self.redis.hgetall(self._email(email_key))
        if not raw:
            return None
        f = {_text(key): _text(value) for key, value in raw.items()}
        return EmailSignInRecord(
            id=uuid.UUID(f["id"]),
            user_id=f["user_id"] or None,
            email=f["email"],
            email_key=f["email_key"],
            sign_up=f["sign_up"] == "1",
            link_digest=f["link_digest"],
            code_digest=f["code_digest"],
            created_at=_moment(f["created_at"]),
            expires_at=_moment(f["expires_at"]),
            attempts=int(f["attempts"]),
            used_at=_moment(f["used_at"]) if f["used_at"] else None,
        )

    async def find_by_link(self, digests: Sequence[str]) -> EmailSignInRecord | None:
        """The sign-in a link key among ``digests`` points at, if that sign-in still has that link."""
        for digest in digests:
            email_key = await self.redis.get(self._link(digest))
            if email_key is None:
                continue
            record = await self._read(_text(email_key))
            # A newer request replaced the hash: the old link's key is an orphan.
            return record if record is not None and record.link_digest == digest else None
        return None

    async def find_by_email(self, email_key: str) -> EmailSignInRecord | None:
        """The sign-in stored for ``email_key``."""
        return await self._read(email_key)

    async def count_attempt(self, sign_in: EmailSignInRecord, *, max_attempts: int) -> bool:
        """Count one attempt in one script: the same sign-in, unused, below the cap."""
        counted = await self._count_attempt(keys=[self._email(sign_in.email_key)], args=[str(sign_in.id), max_attempts])
        return int(counted) == 1

    async def consume(self, sign_in: EmailSignInRecord, *, now: datetime) -> bool:
        """Mark the sign-in used in one script: the same sign-in, unused, not expired at ``now``."""
        consumed = await self._consume(keys=[self._email(sign_in.email_key)], args=[str(sign_in.id), _micros(now)])
        return int(consumed) == 1

    async def delete_expired(self, *, now: datetime) -> int:
        """Nothing to do: Redis deletes expired keys itself."""
        return 0
