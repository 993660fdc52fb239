"""Login challenges: the state between a correct password and the second factor (issue 18, item 3).

A user with an active factor who gives the right password receives a challenge token instead of
an access token. The token is 256 bits from the CSPRNG (``secrets.token_urlsafe(32)``); only its
SHA-256 digest is stored (a full-entropy value needs no slow or keyed hash: a dump of the table
cannot be turned back into a usable token). A challenge is bound to its user and to the backend
whose login created it, lives at most five minutes, allows a bounded number of code attempts and
is spent by the first correct code (one conditional ``DELETE``; of two concurrent completions
exactly one wins).

Two stores: :class:`SQLAlchemyChallengeStore` over a table declared with
:class:`SQLAlchemyBaseMFAChallengeTable` (next to the sessions and rate-limit counters of an app
on SQL), and :class:`RedisChallengeStore` (next to the Redis session store and counters).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from sqlalchemy import CursorResult, ForeignKey, Integer, String, delete, insert, select, update
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from fastapi_userkit.db._types import GUID, TIMESTAMPAware
from fastapi_userkit.models import ID

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "ChallengeStore",
    "RedisChallengeStore",
    "SQLAlchemyBaseMFAChallengeTable",
    "SQLAlchemyBaseMFAChallengeTableUUID",
    "SQLAlchemyChallengeStore",
    "challenge_digest",
    "new_challenge_token",
]

_TOKEN_BYTES = 32
_ASCII_BIN = {"charset": "ascii", "collation": "ascii_bin"}
_DIGEST = String(length=43).with_variant(mysql.VARCHAR(43, **_ASCII_BIN), "mysql", "mariadb")


def new_challenge_token() -> str:
    """A fresh challenge token: 256 bits from the CSPRNG, base64url (43 characters)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def challenge_digest(token: str) -> str:
    """The stored form of a challenge token: its SHA-256, base64url without padding (43 characters)."""
    raw = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@runtime_checkable
class ChallengeStore(Protocol):
    """Where pending login challenges live."""

    async def create(self, digest: str, *, user_id: Any, backend: str, now: datetime, lifetime: timedelta) -> None:
        """Store a challenge of ``user_id`` for ``backend``, valid for ``lifetime`` from ``now``."""
        ...  # pragma: no cover

    async def attempt(self, digest: str, *, backend: str, now: datetime, max_attempts: int) -> Any | None:
        """Count one code attempt on the challenge; return its user id, or ``None`` if it cannot be tried.

        ``None`` for an unknown, expired, spent or exhausted challenge, or one of another backend.
        One atomic write: concurrent attempts never exceed ``max_attempts`` together.
        """
        ...  # pragma: no cover

    async def consume(self, digest: str) -> bool:
        """Spend the challenge; ``True`` for exactly one of concurrent callers."""
        ...  # pragma: no cover


class SQLAlchemyBaseMFAChallengeTable(Generic[ID]):
    """Columns of ``mfa_challenge``: one row per pending challenge, keyed by the token's digest."""

    __tablename__ = "mfa_challenge"

    if TYPE_CHECKING:  # plain attributes for type checkers (see SQLAlchemyBaseUserTable)
        digest: str
        user_id: ID
        backend: str
        expires_at: datetime
        attempts: int
    else:
        digest: Mapped[str] = mapped_column(_DIGEST, primary_key=True)
        backend: Mapped[str] = mapped_column(String(length=64), nullable=False)
        expires_at: Mapped[datetime] = mapped_column(TIMESTAMPAware(timezone=True), nullable=False, index=True)
        attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class SQLAlchemyBaseMFAChallengeTableUUID(SQLAlchemyBaseMFAChallengeTable[uuid.UUID]):
    """Challenge columns with a ``user_id`` foreign key to ``user.id`` (deleting the user deletes them)."""

    if TYPE_CHECKING:
        user_id: uuid.UUID
    else:

        @declared_attr
        def user_id(cls) -> Mapped[GUID]:  # noqa: N805 - declared_attr receives the class
            return mapped_column(GUID, ForeignKey("user.id", ondelete="cascade"), nullable=False, index=True)


CT = TypeVar("CT", bound=SQLAlchemyBaseMFAChallengeTable[Any])


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class SQLAlchemyChallengeStore(Generic[CT]):
    """Stores challenges through an :class:`~sqlalchemy.ext.asyncio.AsyncSession` (every method commits).

    Args:
        session: The request's session.
        table: The application's mapped challenge class.
    """

    def __init__(self, session: AsyncSession, table: type[CT]) -> None:
        self.session = session
        self.table = table

    @property
    def _table(self) -> Any:
        return self.table

    async def create(self, digest: str, *, user_id: Any, backend: str, now: datetime, lifetime: timedelta) -> None:
        """Insert the challenge, and delete the user's expired ones (so rows never pile up per user)."""
        table = self._table
        await self.session.execute(
            delete(table)
            .where(table.user_id == user_id, table.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            insert(table).values(digest=digest, user_id=user_id, backend=backend, expires_at=now + lifetime, attempts=0)
        )
        await self.session.commit()

    async def attempt(self, digest: str, *, backend: str, now: datetime, max_attempts: int) -> Any | None:
        """Count one attempt with one conditional ``UPDATE``; its row count decides."""
        table = self._table
        result = await self.session.execute(
            update(table)
            .where(
                table.digest == digest,
                table.backend == backend,
                table.expires_at > now,
                table.attempts < max_attempts,
            )
            .values(attempts=table.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            await self.session.rollback()
            return None
        user_id = (await self.session.execute(select(table.user_id).where(table.digest == digest))).scalar_one()
        await self.session.commit()
        return user_id

    async def consume(self, digest: str) -> bool:
        """Delete the challenge; the row count says whether this caller spent it."""
        table = self._table
        result = await self.session.execute(
            delete(table).where(table.digest == digest).execution_options(synchronize_session=False)
        )
        await self.session.commit()
        return _rowcount(result) == 1

    async def delete_expired(self, now: datetime) -> int:
        """Delete every expired challenge (for a periodic clean-up); return how many."""
        table = self._table
        result = await self.session.execute(
            delete(table).where(table.expires_at <= now).execution_options(synchronize_session=False)
        )
        await self.session.commit()
        return _rowcount(result)


# KEYS[1] the challenge; ARGV: backend, max attempts. The check and the count are one script, so
# concurrent attempts cannot pass the limit together (Redis runs a script atomically).
_ATTEMPT = """
local fields = redis.call('HMGET', KEYS[1], 'user_id', 'backend', 'attempts')
if not fields[1] or fields[2] ~= ARGV[1] or tonumber(fields[3]) >= tonumber(ARGV[2]) then
  return false
end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return fields[1]
"""


class RedisChallengeStore:
    """Stores challenges in Redis: one hash per challenge, expiring with it.

    Args:
        redis: A ``redis.asyncio`` client (``decode_responses`` either way).
        key_prefix: Prefix of the keys (give it a hash tag, ``{userkit}:``, on a Redis Cluster).

    The user id comes back as text; the challenge route parses it with the manager's ``parse_id``.
    """

    def __init__(self, redis: Redis, *, key_prefix: str = "fastapi_userkit:mfa_challenge:") -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self._attempt = redis.register_script(_ATTEMPT)

    def _key(self, digest: str) -> str:
        return f"{self.key_prefix}{digest}"

    async def create(self, digest: str, *, user_id: Any, backend: str, now: datetime, lifetime: timedelta) -> None:
        """Store the challenge as a hash that Redis deletes when it expires."""
        key = self._key(digest)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user_id": str(user_id), "backend": backend, "attempts": 0})
            pipe.pexpireat(key, int((now + lifetime).timestamp() * 1000))
            await pipe.execute()

    async def attempt(self, digest: str, *, backend: str, now: datetime, max_attempts: int) -> Any | None:
        """Count one attempt atomically (a Lua script); Redis's own expiry ends the challenge."""
        value = await self._attempt(keys=[self._key(digest)], args=[backend, max_attempts])
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def consume(self, digest: str) -> bool:
        """Delete the challenge's key; ``True`` for the caller whose ``DEL`` removed it."""
        return int(await self.redis.delete(self._key(digest))) == 1
