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
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify and decode a JWT.

    Args:
        encoded_jwt: The token.
        secret: The key it must be signed with.
        audience: The audiences it may be for.
        algorithms: The algorithms accepted (HS256 by default).
        now: The current time in Unix seconds for ``exp``, ``nbf`` and ``iat`` (an injected clock,
            new in fastapi-userkit); ``None``: PyJWT checks them against the real time.

    Raises:
        jwt.PyJWTError: The token is malformed, badly signed, expired or for another audience.
    """
    # PyJWT encodes a str token to UTF-8 first; a lone surrogate (which JSON bodies can carry)
    # would escape as UnicodeEncodeError, a 500, instead of a malformed-token error.
    if not encoded_jwt.isascii():
        raise jwt.DecodeError("A JWT is ASCII text.")
    if now is None:
        decoded: dict[str, Any] = jwt.decode(
            encoded_jwt,
            get_secret_value(secret),
            audience=audience,
            algorithms=algorithms or [JWT_ALGORITHM],
        )
        return decoded
    decoded = jwt.decode(
        encoded_jwt,
        get_secret_value(secret),
        audience=audience,
        algorithms=algorithms or [JWT_ALGORITHM],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    _check_times(decoded, now)
    return decoded


def _check_times(claims: dict[str, Any], now: float) -> None:
    """PyJWT's checks of ``exp``, ``nbf`` and ``iat`` (RFC 7519 4.1.4-4.1.6), against ``now``.

    Raises:
        jwt.PyJWTError: A time claim that is not a number, an expired token, or one not valid yet.
    """
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise jwt.DecodeError(f"The {name} claim must be a number.")
    if "exp" in claims and claims["exp"] <= now:
        raise jwt.ExpiredSignatureError("Signature has expired")
    if "nbf" in claims and claims["nbf"] > now:
        raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
    if "iat" in claims and claims["iat"] > now:
        raise jwt.ImmatureSignatureError("The token is not yet valid (iat)")


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

    def decode(
        self, token: str, secret: Any, audience: list[str], algorithms: list[str], *, now: float | None = None
    ) -> dict[str, Any]:
        """:func:`decode_jwt`, from the cache when this token was verified before and is unexpired.

        ``now`` is the injected clock's time, as for :func:`decode_jwt` (the real time by default).

        Raises:
            jwt.PyJWTError: As :func:`decode_jwt`.
        """
        key_value = get_secret_value(secret) if isinstance(secret, SecretStr) else secret
        key: Hashable = (token, key_value, tuple(audience), tuple(algorithms))
        try:
            entry = self._entries.get(key)
        except TypeError:  # an unhashable key object
            return decode_jwt(token, secret, audience, algorithms, now=now)
        if entry is not None:
            claims, expires = entry
            if expires is None or expires > (time.time() if now is None else now):
                return dict(claims)
            self._entries.pop(key, None)
        claims = decode_jwt(token, secret, audience, algorithms, now=now)
        # PyJWT has just checked that ``exp``, when present, is an integer in the future.
        expires = int(claims["exp"]) if "exp" in claims else None
        self._entries[key] = (dict(claims), expires)
        while len(self._entries) > self.max_entries:
            try:
                self._entries.popitem(last=False)
            except KeyError:  # pragma: no cover - emptied by another thread meanwhile
                break
        return claims
