"""Redis storage of passkey challenges (Redis 6.2 or later, for ``GETDEL``).

One key per challenge, ``{key_prefix}{digest}``, whose value is the JSON array ``[purpose,
user_key, expires_at, payload]`` and which Redis expires at the challenge's end. Taking it is
one ``GETDEL``: atomic, so of concurrent answers to one challenge exactly one gets it, on any number of workers (T44).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi_userkit.passkeys.store import ChallengePurpose, ChallengeRecord

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisPasskeyChallengeStore"]

_PURPOSES: dict[str, ChallengePurpose] = {
    "registration": "registration",
    "authentication": "authentication",
    "signup": "signup",
}


def _record(value: Any) -> ChallengeRecord | None:
    """The record of a stored value; ``None`` for anything put() does not write."""
    if not isinstance(value, list) or len(value) != 4:
        return None
    purpose, user_key, expires_at, payload = value
    known = _PURPOSES.get(purpose) if isinstance(purpose, str) else None
    if (
        known is None
        or not isinstance(expires_at, str)
        or not (user_key is None or isinstance(user_key, str))
        or not (payload is None or isinstance(payload, str))
    ):
        return None
    try:
        expiry = datetime.fromisoformat(expires_at)
    except ValueError:
        return None
    return ChallengeRecord(known, user_key, expiry, payload)


class RedisPasskeyChallengeStore:
    """A :class:`~fastapi_userkit.passkeys.PasskeyChallengeStore` in Redis.

    Args:
        redis: An asyncio Redis client (``decode_responses=True`` or not, both work), or a
            ``RedisCluster`` (every key stands alone, so no hash tag is needed).
        key_prefix: Put before every key.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis | redis.asyncio.RedisCluster,
        *,
        key_prefix: str = "fastapi_userkit_passkey_challenge:",
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix

    async def put(self, digest: str, record: ChallengeRecord, *, now: datetime) -> None:
        """Store the challenge under its digest; Redis drops it when it expires."""
        seconds = max(1, math.ceil((record.expires_at - now).total_seconds()))
        value = json.dumps([record.purpose, record.user_key, record.expires_at.isoformat(), record.payload])
        await self.redis.set(self.key_prefix + digest, value, ex=seconds)

    async def take(self, digest: str) -> ChallengeRecord | None:
        """Remove the challenge and return it (one ``GETDEL``); ``None`` if it is not there."""
        raw = await self.redis.getdel(self.key_prefix + digest)
        if raw is None:
            return None
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        try:
            value = json.loads(text)
        except ValueError:  # not a value put() writes: someone else's key under our prefix
            return None
        return _record(value)
