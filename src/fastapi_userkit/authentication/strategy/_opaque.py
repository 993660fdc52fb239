"""Opaque tokens: 256 random bits for the client, a SHA-256 digest for storage.

The database row or Redis key holds only ``digest(token)``, so a dump of the store cannot be
replayed as a token (ASVS 5.0 7.2.3; the split Lucia recommends). SHA-256 without a salt is
enough here: the input has 256 bits of entropy, so there is nothing to brute-force.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

__all__ = ["digest", "new_token"]


def new_token() -> str:
    """Return a new client token: 32 random bytes, base64url, 43 characters."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """Return the unpadded base64url SHA-256 of ``token`` (43 characters)."""
    raw = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
