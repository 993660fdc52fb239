"""Self-contained JSON Web Tokens."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic

import jwt

from fastapi_userkit import exceptions
from fastapi_userkit._fingerprint import fingerprint, fingerprints_match
from fastapi_userkit.authentication.assurance import UNKNOWN_ASSURANCE, Assurance
from fastapi_userkit.authentication.strategy.base import (
    AssuranceBoundStrategy,
    RevokeAllStrategy,
    StrategyDestroyNotSupportedError,
)
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.jwt import SecretType, VerifiedTokenCache, generate_jwt, get_secret_value
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi_userkit.db.revoked_token import RevokedTokenDatabase

__all__ = ["JWTStrategy", "JWTStrategyDestroyNotSupportedError"]

_CREDENTIAL_CLAIM = "fgp"
_SESSION_CLAIM = "sid"  # the session of a refresh-enabled login (OpenID Connect's claim name)
_BACKEND_CLAIM = "bkd"  # the tag of the backend that issued the token (issue 16)
# How the user signed in (issue 18): the level, and OpenID Connect Core's auth_time claim.
_AAL_CLAIM = "aal"
_AUTH_TIME_CLAIM = "auth_time"
# Shared by every strategy instance: apps usually build their strategy per request.
_VERIFIED_ACCESS_TOKENS = VerifiedTokenCache()


class JWTStrategyDestroyNotSupportedError(StrategyDestroyNotSupportedError):
    """A JWT cannot be revoked without a revocation table: it stays valid until it expires."""

    def __init__(self) -> None:
        super().__init__("A JWT can't be invalidated without a revoked-token table: it's valid until it expires.")


class JWTStrategy(AssuranceBoundStrategy[UP, ID], RevokeAllStrategy, Generic[UP, ID]):
    """Signed tokens ``{"sub": <user id>, "aud": [...], "exp": ..., "iat": ..., "jti": ..., "fgp": ...}``.

    ``fgp`` is a short keyed digest of the user's password hash when the token was issued. It is
    checked against the user row that is loaded anyway, so a password change or reset ends every
    JWT issued before it at no extra query (ASVS 5.0 7.4.3). Tokens without it (issued by
    FastAPI Users before a migration) are still accepted until they expire.

    With ``revoked_tokens`` (a :class:`~fastapi_userkit.db.revoked_token.SQLAlchemyRevokedTokenDatabase`),
    logout ends the one token and "log out everywhere" ends all of a user's tokens, at the cost
    of one indexed query per request. Without it, logout keeps FastAPI Users' behaviour.

    Args:
        secret: The HMAC key, or the private key for asymmetric algorithms.
        lifetime_seconds: Seconds until expiry; ``None`` for no expiry. ``0`` is refused.
        token_audience: The ``aud`` claim written and required.
        algorithm: The one algorithm accepted (``HS256``, ``RS256``, ``ES256``...).
        public_key: The verification key for asymmetric algorithms.
        revoked_tokens: Optional revocation storage.
        clock: Returns the current time (UTC); injectable for tests.

    Raises:
        ConfigurationError: An empty secret or a zero or negative lifetime.
    """

    def __init__(
        self,
        secret: SecretType,
        lifetime_seconds: int | None,
        token_audience: list[str] | None = None,
        algorithm: str = "HS256",
        public_key: SecretType | None = None,
        *,
        revoked_tokens: RevokedTokenDatabase | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        if not get_secret_value(secret):
            raise exceptions.ConfigurationError("JWTStrategy needs a non-empty secret.")
        if lifetime_seconds is not None and lifetime_seconds <= 0:
            raise exceptions.ConfigurationError(
                "lifetime_seconds must be positive (or None for tokens that never expire)."
            )
        self.secret = secret
        self.lifetime_seconds = lifetime_seconds
        self.token_audience = token_audience if token_audience is not None else ["fastapi-users:auth"]
        self.algorithm = algorithm
        self.public_key = public_key
        self.revoked_tokens = revoked_tokens
        self.clock = clock

    @property
    def encode_key(self) -> SecretType:
        """The key tokens are signed with."""
        return self.secret

    @property
    def decode_key(self) -> SecretType:
        """The key tokens are verified with."""
        return self.public_key or self.secret

    def _credential_fingerprint(self, user: UP) -> str:
        return fingerprint(self.secret, "jwt-credential", user.hashed_password, length=16)

    def _decode(self, token: str) -> dict[str, Any] | None:
        try:
            # An injected clock (tests, the testing kit's FrozenClock) decides expiry too; the
            # default clock leaves it to PyJWT's own check of the real time.
            now = None if self.clock is now_utc else self.clock().timestamp()
            return _VERIFIED_ACCESS_TOKENS.decode(
                token, self.decode_key, self.token_audience, [self.algorithm], now=now
            )
        except jwt.PyJWTError:
            return None

    async def read_token(self, token: str | None, user_manager: BaseUserManager[UP, ID]) -> UP | None:
        """Return the token's user, or ``None`` if invalid, expired, revoked or older than a password change."""
        data = self._decode(token) if token is not None else None
        if data is None or data.get("sub") is None:
            return None
        try:
            parsed_id = user_manager.parse_id(data["sub"])
        except exceptions.InvalidID:
            return None
        user = await user_manager.user_db.get(parsed_id)
        if user is None or not self._issued_for_current_password(user, data):
            return None
        if self.revoked_tokens is not None and await self._is_revoked(data):
            return None
        return user

    def _issued_for_current_password(self, user: UP, data: dict[str, Any]) -> bool:
        if _CREDENTIAL_CLAIM not in data:
            return True  # issued before the migration from FastAPI Users
        return fingerprints_match(self._credential_fingerprint(user), data[_CREDENTIAL_CLAIM])

    async def _is_revoked(self, data: dict[str, Any]) -> bool:
        assert self.revoked_tokens is not None  # noqa: S101 - checked by the caller
        jti_key, user_key = f"jti:{data.get('jti')}", f"user:{data['sub']}"
        rows = await self.revoked_tokens.get_many([jti_key, user_key])
        if jti_key in rows:
            return True
        user_row = rows.get(user_key)
        if user_row is None or user_row.not_before is None:
            return False
        issued_at = data.get("iat")
        if not isinstance(issued_at, int | float):
            return True  # no issue time: it cannot prove it is newer than the cut-off
        return datetime.fromtimestamp(issued_at, UTC) <= user_row.not_before

    async def write_token(
        self,
        user: UP,
        *,
        session_id: str | None = None,
        backend_tag: str | None = None,
        assurance: Assurance | None = None,
    ) -> str:
        """Issue a JWT for ``user``.

        With ``session_id`` (refresh on), a ``sid`` claim names its session; with ``backend_tag``
        (given by the backend that issues it), a ``bkd`` claim names that backend; with
        ``assurance``, ``aal`` and ``auth_time`` claims say how the user signed in.
        """
        data: dict[str, Any] = {
            "sub": str(user.id),
            "aud": self.token_audience,
            # Sub-second issue time, so a token issued just after "log out everywhere" is newer
            # than the cut-off (RFC 7519 section 2 allows non-integer NumericDate values).
            "iat": round(self.clock().timestamp(), 6),
            "jti": secrets.token_urlsafe(16),
            _CREDENTIAL_CLAIM: self._credential_fingerprint(user),
        }
        if session_id is not None:
            data[_SESSION_CLAIM] = session_id
        if backend_tag is not None:
            data[_BACKEND_CLAIM] = backend_tag
        if assurance is not None:
            data[_AAL_CLAIM] = assurance.aal
            if assurance.auth_time is not None:
                data[_AUTH_TIME_CLAIM] = assurance.auth_time
        if self.lifetime_seconds:
            # From the strategy's clock, which also decides expiry when the token is read.
            data["exp"] = self._expiry()
        return generate_jwt(data, self.encode_key, None, algorithm=self.algorithm)

    def session_id_of(self, token: str) -> str | None:
        """The ``sid`` claim of a token :meth:`read_token` has just accepted, or ``None``.

        The token was verified by that call, and the verified claims are remembered
        (:class:`~fastapi_userkit.jwt.VerifiedTokenCache`): reading them again costs no second check.
        """
        return self._claim(token, _SESSION_CLAIM)

    def backend_tag_of(self, token: str) -> str | None:
        """The ``bkd`` claim (the issuing backend's tag) of a token :meth:`read_token` has just accepted."""
        return self._claim(token, _BACKEND_CLAIM)

    def assurance_of(self, token: str) -> Assurance:
        """The ``aal`` and ``auth_time`` claims of a token :meth:`read_token` has just accepted.

        A token without them (issued before the upgrade, or by ``write_token(user)`` in app code)
        reads as level 1 at an unknown time, never fresh. The claims are signed with the token.
        """
        data = self._decode(token)
        if data is None or _AAL_CLAIM not in data:
            return UNKNOWN_ASSURANCE
        level, auth_time = data[_AAL_CLAIM], data.get(_AUTH_TIME_CLAIM)
        if type(level) is not int:  # signed by us, so never; a bool is no level all the same
            return UNKNOWN_ASSURANCE
        try:
            return Assurance(level, auth_time if type(auth_time) is int else None)
        except ValueError:
            return UNKNOWN_ASSURANCE

    def _claim(self, token: str, claim: str) -> str | None:
        data = self._decode(token)
        value = None if data is None else data.get(claim)
        return None if value is None else str(value)

    @property
    def can_destroy_all_tokens(self) -> bool:
        """Only with a revoked-token table: nothing else can end a JWT before it expires."""
        return self.revoked_tokens is not None

    def _expiry(self) -> datetime | None:
        if self.lifetime_seconds is None:
            return None
        return self.clock() + timedelta(seconds=self.lifetime_seconds)

    async def destroy_token(self, token: str, user: UP) -> None:
        """Revoke this one token.

        Raises:
            JWTStrategyDestroyNotSupportedError: No revocation storage is configured.
        """
        if self.revoked_tokens is None:
            raise JWTStrategyDestroyNotSupportedError()
        data = self._decode(token)
        if data is None or "jti" not in data:
            # A token without an id (issued before a migration) can only be ended with all the others.
            await self.destroy_all_tokens(user)
            return
        exp = data.get("exp")
        expires_at = datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None
        await self.revoked_tokens.revoke(f"jti:{data['jti']}", None, expires_at)

    async def destroy_all_tokens(self, user: UP) -> None:
        """Revoke every token of ``user`` issued until now.

        Raises:
            JWTStrategyDestroyNotSupportedError: No revocation storage is configured.
        """
        if self.revoked_tokens is None:
            raise JWTStrategyDestroyNotSupportedError()
        await self.revoked_tokens.revoke(f"user:{user.id}", self.clock(), self._expiry())
