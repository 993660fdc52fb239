"""Short keyed digests that bind a token to the user's current credential.

A reset token carries the fingerprint of the password hash it was issued against: once the
password changes (the reset itself, or any other change), the stored hash changes and every
earlier reset token stops matching, so each one works once (the Django rule).

FastAPI Users puts an Argon2 hash of the password hash in the token, which costs a full Argon2
run to issue and another to check, on unauthenticated routes. An HMAC-SHA256 under the token's
own secret is as binding (the hash has a fresh 128-bit salt each time it changes) and costs
microseconds, so forgot-password does no CPU-heavy work at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from fastapi_userkit.jwt import SecretType, get_secret_value

__all__ = ["fingerprint", "fingerprints_match"]


def fingerprint(secret: SecretType, purpose: str, value: str, length: int = 22) -> str:
    """Return an unpadded base64url HMAC-SHA256 of ``value`` keyed by ``secret`` and ``purpose``."""
    key = get_secret_value(secret).encode()
    mac = hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()[:length]


def fingerprints_match(expected: str, given: object) -> bool:
    """Compare fingerprints in constant time; anything but a string never matches."""
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())
