"""Refresh tokens: 256 random bits for the root of a family, an HMAC of the parent for each child.

A refresh token is ``ukrt_`` and 43 base64url characters. The prefix tells a refresh token from
an access token at a glance and lets secret scanners find leaked ones (T21); the route that
accepts refresh tokens refuses anything else before any lookup (T29).

Only ``digest(token)`` is stored. The child of a rotation is ``HMAC-SHA256(secret, parent)``
rather than fresh randomness: with digests alone at rest, two concurrent refreshes of the same
parent inside the grace window can then both be answered with the same child, which neither
request could otherwise recover. Without the server secret, a stolen parent says nothing about
its child.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from fastapi_userkit.jwt import SecretType, get_secret_value

__all__ = ["REFRESH_TOKEN_PREFIX", "child_refresh_token", "digest", "is_refresh_token", "new_refresh_token"]

REFRESH_TOKEN_PREFIX = "ukrt_"  # noqa: S105 - a public marker for secret scanners, not a secret
_BODY_LENGTH = 43  # 32 bytes, unpadded base64url
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def digest(token: str) -> str:
    """Return the unpadded base64url SHA-256 of ``token`` (43 characters)."""
    return _b64(hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest())


def new_refresh_token() -> str:
    """Return the first refresh token of a new family (256 bits from :mod:`secrets`)."""
    return REFRESH_TOKEN_PREFIX + _b64(secrets.token_bytes(32))


def child_refresh_token(secret: SecretType, parent: str) -> str:
    """Return the token that replaces ``parent`` at rotation (the same every time)."""
    key = get_secret_value(secret).encode()
    mac = hmac.new(key, f"fastapi-userkit:refresh-child\x00{parent}".encode(), hashlib.sha256).digest()
    return REFRESH_TOKEN_PREFIX + _b64(mac)


def is_refresh_token(value: object) -> bool:
    """Whether ``value`` has the form of a refresh token (prefix, length and alphabet)."""
    if not isinstance(value, str) or not value.startswith(REFRESH_TOKEN_PREFIX):
        return False
    body = value[len(REFRESH_TOKEN_PREFIX) :]
    return len(body) == _BODY_LENGTH and _ALPHABET.issuperset(body)
