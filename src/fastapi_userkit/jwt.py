"""Signing and verifying the JSON Web Tokens used for access, reset, verification and OAuth state.

Every token carries an audience (``aud``) naming its purpose, so a token minted for one
purpose is refused for every other (OWASP ASVS 5.0 V9.2.3), and decoding accepts only an
explicit list of algorithms, never ``none`` (ASVS V9.1.2).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import jwt
from pydantic import SecretStr

SecretType: TypeAlias = str | SecretStr
JWT_ALGORITHM = "HS256"

__all__ = ["JWT_ALGORITHM", "SecretType", "decode_jwt", "generate_jwt", "get_secret_value"]


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
