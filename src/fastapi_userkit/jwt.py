"""Signing and verifying the JSON Web Tokens used for access, reset, verification and OAuth state.

Every token carries an audience (``aud``) naming its purpose, so a token minted for one
purpose is refused for every other (OWASP ASVS 5.0 V9.2.3), and decoding accepts only an
explicit list of algorithms, never ``none`` (ASVS V9.1.2).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import jwt
from pydantic import SecretStr

SecretType: TypeAlias = str | SecretStr
JWT_ALGORITHM = "HS256"

__all__ = ["JWT_ALGORITHM", "SecretType", "VerifiedTokenCache", "decode_jwt", "generate_jwt", "get_secret_value"]


def get_secret_value(secret: SecretType) -> str:
    """Return the plain value of a secret given as ``str`` or :class:`pydantic.SecretStr`."""
    if isinstance(secret, SecretStr):
        return secret.get_secret_value()
    return secret


def generate_jwt(
    data: dict[str, Any],
    secret: SecretType,
    lifetime_seconds: int | None = None,
    algorithm: str = JWT_ALGORITHM,
) -> str:
    """Sign ``data`` as a JWT, adding ``exp`` when a lifetime is given.

    Args:
        data: The claims; copied, never mutated.
        secret: The signing key (a private key for asymmetric algorithms).
        lifetime_seconds: Seconds until expiry; ``None`` (or ``0``, for compatibility) means no ``exp``.
        algorithm: A PyJWT algorithm name.
    """
    payload = data.copy()
    if lifetime_seconds:
        payload["exp"] = datetime.now(UTC) + timedelta(seconds=lifetime_seconds)
    return jwt.encode(payload, get_secret_value(secret), algorithm=algorithm)


def decode_jwt(
    encoded_jwt: str,
    secret: SecretType,
    audience: list[str],
    algorithms: list[str] | None = None,
) -> dict[str, Any]:
    """Verify and decode a JWT.

    Raises:
        jwt.PyJWTError: The token is malformed, badly signed, expired or for another audience.
    """
    # PyJWT encodes a str token to UTF-8 first; a lone surrogate (which JSON bodies can carry)
    # would escape as UnicodeEncodeError, a 500, instead of a malformed-token error.
    if not encoded_jwt.isascii():
        raise jwt.DecodeError("A JWT is ASCII text.")
    decoded: dict[str, Any] = jwt.decode(
        encoded_jwt,
        get_secret_value(secret),
        audience=audience,
        algorithms=algorithms or [JWT_ALGORITHM],
    )
    return decoded


class VerifiedTokenCache:
    """The claims of recently verified tokens, so a token sent again skips PyJWT's checks.

    Every authenticated request decodes its access token again: about 0.1 ms of CPU, a tenth of
    what ``GET /users/me`` costs (``bench/RESULTS.md``). Whether a given string carries a valid
    signature under a given key, for a given audience, is a fixed fact, and it is all that is
    kept here, keyed by ``(token, key, audiences, algorithms)``. The expiry is compared on every
    use: an expired entry is dropped and the token goes through PyJWT again, which refuses it.
    ``nbf`` and ``iat`` held when the token was verified and hold later. Everything a request can
    change (the user row, revocation, the password fingerprint, the session) is not a token
    claim and is still read on every request by the strategy.

    Bounded: when full, the oldest entry goes. A key that cannot be hashed bypasses the cache.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[dict[str, Any], int | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def decode(self, token: str, secret: Any, audience: list[str], algorithms: list[str]) -> dict[str, Any]:
        """:func:`decode_jwt`, from the cache when this token was verified before and is unexpired.

        Raises:
            jwt.PyJWTError: As :func:`decode_jwt`.
        """
        key_value = get_secret_value(secret) if isinstance(secret, SecretStr) else secret
        key: Hashable = (token, key_value, tuple(audience), tuple(algorithms))
        try:
            entry = self._entries.get(key)
        except TypeError:  # an unhashable key object
            return decode_jwt(token, secret, audience, algorithms)
        if entry is not None:
            claims, expires = entry
            if expires is None or expires > time.time():
                return dict(claims)
            self._entries.pop(key, None)
        claims = decode_jwt(token, secret, audience, algorithms)
        # PyJWT has just checked that ``exp``, when present, is an integer in the future.
        expires = int(claims["exp"]) if "exp" in claims else None
        self._entries[key] = (dict(claims), expires)
        while len(self._entries) > self.max_entries:
            try:
                self._entries.popitem(last=False)
            except KeyError:  # pragma: no cover - emptied by another thread meanwhile
                break
        return claims
