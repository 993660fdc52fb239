"""Self-contained JSON Web Tokens."""

from __future__ import annotations

from typing import Any, Generic

import jwt

from fastapi_userkit import exceptions
from fastapi_userkit._fingerprint import fingerprint, fingerprints_match
from fastapi_userkit.authentication.strategy.base import Strategy, StrategyDestroyNotSupportedError
from fastapi_userkit.jwt import SecretType, decode_jwt, generate_jwt, get_secret_value
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP

__all__ = ["JWTStrategy", "JWTStrategyDestroyNotSupportedError"]

_CREDENTIAL_CLAIM = "fgp"


class JWTStrategyDestroyNotSupportedError(StrategyDestroyNotSupportedError):
    """A JWT cannot be revoked on its own: it stays valid until it expires."""

    def __init__(self) -> None:
        super().__init__("A JWT can't be invalidated: it's valid until it expires.")


class JWTStrategy(Strategy[UP, ID], Generic[UP, ID]):
    """Signed tokens ``{"sub": <user id>, "aud": [...], "exp": ...}``.

    Each token also carries ``fgp``, a short keyed digest of the user's password hash taken
    when the token was issued. It is checked against the user row that is loaded anyway, so a
    password change or reset ends every JWT issued before it at no extra query (ASVS 5.0 7.4.3).

    Args:
        secret: The HMAC key, or the private key for asymmetric algorithms.
        lifetime_seconds: Seconds until expiry; ``None`` for no expiry. ``0`` is refused.
        token_audience: The ``aud`` claim written and required.
        algorithm: The one algorithm accepted (``HS256``, ``RS256``, ``ES256``...).
        public_key: The verification key for asymmetric algorithms.

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

    async def read_token(self, token: str | None, user_manager: BaseUserManager[UP, ID]) -> UP | None:
        """Return the token's user, or ``None`` if invalid, expired or issued before a password change."""
        if token is None:
            return None
        try:
            data = decode_jwt(token, self.decode_key, self.token_audience, algorithms=[self.algorithm])
            user_id = data.get("sub")
            if user_id is None:
                return None
            parsed_id = user_manager.parse_id(user_id)
            user = await user_manager.user_db.get(parsed_id)
        except (jwt.PyJWTError, exceptions.InvalidID):
            return None
        if user is None:
            return None
        if _CREDENTIAL_CLAIM in data and not fingerprints_match(
            self._credential_fingerprint(user), data[_CREDENTIAL_CLAIM]
        ):
            return None
        return user

    async def write_token(self, user: UP) -> str:
        """Issue a JWT for ``user``."""
        data: dict[str, Any] = {
            "sub": str(user.id),
            "aud": self.token_audience,
            _CREDENTIAL_CLAIM: self._credential_fingerprint(user),
        }
        return generate_jwt(data, self.encode_key, self.lifetime_seconds, algorithm=self.algorithm)

    async def destroy_token(self, token: str, user: UP) -> None:
        """JWTs cannot be revoked one by one here.

        Raises:
            JWTStrategyDestroyNotSupportedError: Always.
        """
        raise JWTStrategyDestroyNotSupportedError()
