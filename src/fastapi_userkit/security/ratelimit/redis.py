"""Rate-limit counters in Redis (``redis.asyncio``), for apps already running Redis.

Each counter is a hash (``count``, ``reset_at``, ``blocked_until``, integer milliseconds of the
limiter's clock) updated by a Lua script, which Redis runs atomically: no other command sees a
half-done update, so every worker shares exact counts. Keys also get a Redis TTL slightly beyond
their window, so Redis forgets idle counters by itself.

A reservation runs one script per key, all sent in one pipeline (one round trip): each script
counts its key or refuses it atomically. The keys of one attempt may live on different nodes of
a Redis Cluster, so no script touches two of them; when one key refuses, the keys that counted
are given back in a second round trip, which only a refused attempt pays. Pipelined scripts go
as ``EVAL`` (the script's text), not ``EVALSHA``: a Redis Cluster pipeline loads no script first,
and a node that never saw the script, or lost it in a restart, would refuse the whole pipeline
(issue 22). Redis caches the compiled script either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastapi_userkit.security.ratelimit.backend import (
    Counter,
    Hit,
    RateLimitStorage,
    RateLimitStorageError,
    Reservation,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster

__all__ = ["RedisRateLimitBackend"]

# Keys outlive their window by this much, so a counter read just before it ends is still there.
_TTL_MARGIN_MS = 1000

_HIT = """
local now = tonumber(ARGV[1])
local finish = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'count', 'reset_at', 'blocked_until')
local count, reset_at, blocked = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]) or 0
if count == nil or reset_at == nil or reset_at <= now then
  count, reset_at, blocked = 1, finish, 0
else
  count = count + 1
  if ARGV[3] == '1' and finish > reset_at then reset_at = finish end
end
redis.call('HSET', KEYS[1], 'count', count, 'reset_at', string.format('%d', reset_at),
           'blocked_until', string.format('%d', blocked))
redis.call('PEXPIRE', KEYS[1], string.format('%d', reset_at - now + tonumber(ARGV[4])))
return {count, string.format('%d', reset_at), string.format('%d', blocked)}
"""

# ARGV: now, window end, sliding, limit (-1: none), hold_from (-1: none), hold end, TTL margin.
_RESERVE = """
local now = tonumber(ARGV[1])
local finish = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'count', 'reset_at', 'blocked_until')
local count, reset_at, blocked = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]) or 0
if count == nil or reset_at == nil or reset_at <= now then
  count, reset_at, blocked = 0, finish, 0
end
local limit, hold_from = tonumber(ARGV[4]), tonumber(ARGV[5])
if blocked > now or (limit >= 0 and count >= limit) then
  return {0, count, string.format('%d', reset_at), string.format('%d', blocked)}
end
count = count + 1
if ARGV[3] == '1' and finish > reset_at then reset_at = finish end
if hold_from >= 0 and count >= hold_from then
  blocked = math.max(blocked, tonumber(ARGV[6]))
  reset_at = math.max(reset_at, blocked)
end
redis.call('HSET', KEYS[1], 'count', count, 'reset_at', string.format('%d', reset_at),
           'blocked_until', string.format('%d', blocked))
redis.call('PEXPIRE', KEYS[1], string.format('%d', reset_at - now + tonumber(ARGV[7])))
return {1, count, string.format('%d', reset_at), string.format('%d', blocked)}
"""

# ARGV: now, the hold this reservation set (-1: none), lifted if the block is still exactly it.
_RELEASE = """
local v = redis.call('HMGET', KEYS[1], 'count', 'reset_at', 'blocked_until')
local count, reset_at = tonumber(v[1]), tonumber(v[2])
if count == nil or reset_at == nil or reset_at <= tonumber(ARGV[1]) or count <= 0 then return 0 end
redis.call('HSET', KEYS[1], 'count', count - 1)
if tonumber(ARGV[2]) >= 0 and tonumber(v[3]) == tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'blocked_until', '0')
end
return 1
"""

_BLOCK = """
local v = redis.call('HMGET', KEYS[1], 'reset_at', 'blocked_until')
if v[1] == false or tonumber(v[1]) <= tonumber(ARGV[3]) then return 0 end
local reset_at = math.max(tonumber(v[1]) or 0, tonumber(ARGV[2]))
local blocked = math.max(tonumber(v[2]) or 0, tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'reset_at', string.format('%d', reset_at), 'blocked_until', string.format('%d', blocked))
redis.call('PEXPIRE', KEYS[1], string.format('%d', reset_at - tonumber(ARGV[3]) + tonumber(ARGV[4])))
return 1
"""


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _number(value: Any) -> float:
    if isinstance(value, bytes):
        value = value.decode()
    return float(value)


class RedisRateLimitBackend(RateLimitStorage):
    """Counters in Redis.

    Args:
        redis: A ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster`` client
            (``decode_responses`` either way).
        prefix: Prepended to every key this backend writes.

    Example::

        RateLimitSettings(backend=RedisRateLimitBackend(redis.asyncio.from_url("redis://localhost")))
    """

    def __init__(self, redis: Redis | RedisCluster, *, prefix: str = "userkit:ratelimit:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._hit = redis.register_script(_HIT)
        self._block = redis.register_script(_BLOCK)

    async def storage_for(self, user_manager: Any) -> RateLimitStorage:
        """Return this backend: Redis does not depend on the request."""
        return self

    async def hit(self, key: str, *, now: float, window: float, sliding: bool) -> Counter:
        """Count one event for ``key`` (see :class:`RateLimitStorage`).

        Raises:
            RateLimitStorageError: Redis failed.
        """
        args = [_ms(now), _ms(now + window), "1" if sliding else "0", _TTL_MARGIN_MS]
        result = await self._call(self._hit, key, args)
        count, reset_at, blocked = result
        return Counter(count=int(count), reset_at=_number(reset_at) / 1000, blocked_until=_number(blocked) / 1000)

    async def reserve(self, hits: Sequence[Hit], *, now: float) -> Reservation:
        """Count one attempt on every key of ``hits``, all or none (see :class:`RateLimitStorage`).

        Raises:
            RateLimitStorageError: Redis failed.
        """
        from redis.exceptions import RedisError

        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for hit in hits:
                    args = [
                        _ms(now),
                        _ms(now + hit.window),
                        "1" if hit.sliding else "0",
                        -1 if hit.limit is None else hit.limit,
                        -1 if hit.hold_from is None else hit.hold_from,
                        _ms(now + hit.hold),
                        _TTL_MARGIN_MS,
                    ]
                    pipe.eval(_RESERVE, 1, self.prefix + hit.key, *args)
                results = await pipe.execute()
        except RedisError as exc:
            raise RateLimitStorageError(f"Rate-limit reservation failed: {exc.__class__.__name__}") from exc
        counters = {
            hit.key: Counter(count=int(count), reset_at=_number(reset_at) / 1000, blocked_until=_number(blocked) / 1000)
            for hit, (_, count, reset_at, blocked) in zip(hits, results, strict=True)
        }
        taken = [hit.key for hit, result in zip(hits, results, strict=True) if int(result[0]) == 1]
        if len(taken) == len(hits):
            return Reservation(granted=True, counters=counters)
        await self.release(taken, now=now)
        refused = frozenset(hit.key for hit in hits if hit.key not in taken)
        return Reservation(granted=False, counters=counters, refused=refused)

    async def release(
        self, keys: Sequence[str], *, now: float, forget: Sequence[str] = (), unhold: Mapping[str, float] | None = None
    ) -> None:
        """Give back one attempt on each of ``keys`` and forget ``forget`` (see :class:`RateLimitStorage`).

        Raises:
            RateLimitStorageError: Redis failed.
        """
        from redis.exceptions import RedisError

        if not keys and not forget:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    # The hold came back from Redis as milliseconds / 1000: round() restores them.
                    hold = round(unhold[key] * 1000) if unhold and key in unhold else -1
                    pipe.eval(_RELEASE, 1, self.prefix + key, _ms(now), hold)
                for key in forget:
                    pipe.delete(self.prefix + key)
                await pipe.execute()
        except RedisError as exc:
            raise RateLimitStorageError(f"Rate-limit release failed: {exc.__class__.__name__}") from exc

    async def block(self, key: str, *, now: float, until: float, keep: float) -> None:
        """Block ``key`` until ``until`` (see :class:`RateLimitStorage`).

        Raises:
            RateLimitStorageError: Redis failed.
        """
        await self._call(self._block, key, [_ms(until), _ms(until + keep), _ms(now), _TTL_MARGIN_MS])

    async def read(self, keys: Sequence[str], *, now: float) -> dict[str, Counter]:
        """Return the live counters among ``keys``.

        Raises:
            RateLimitStorageError: Redis failed.
        """
        from redis.exceptions import RedisError

        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hmget(self.prefix + key, ["count", "reset_at", "blocked_until"])
                rows = await pipe.execute()
        except RedisError as exc:
            raise RateLimitStorageError(f"Rate-limit read failed: {exc.__class__.__name__}") from exc
        counters: dict[str, Counter] = {}
        for key, (count, reset_at, blocked) in zip(keys, rows, strict=True):
            if count is None or reset_at is None:
                continue
            counter = Counter(
                count=int(_number(count)),
                reset_at=_number(reset_at) / 1000,
                blocked_until=_number(blocked or 0) / 1000,
            )
            if counter.reset_at > now:
                counters[key] = counter
        return counters

    async def clear(self, key: str) -> None:
        """Forget ``key``.

        Raises:
            RateLimitStorageError: Redis failed.
        """
        from redis.exceptions import RedisError

        try:
            await self.redis.delete(self.prefix + key)
        except RedisError as exc:
            raise RateLimitStorageError(f"Rate-limit clear failed: {exc.__class__.__name__}") from exc

    async def _call(self, script: Any, key: str, args: list[Any]) -> Any:
        from redis.exceptions import RedisError

        try:
            return await script(keys=[self.prefix + key], args=args)
        except RedisError as exc:
            raise RateLimitStorageError(f"Rate-limit update failed: {exc.__class__.__name__}") from exc
