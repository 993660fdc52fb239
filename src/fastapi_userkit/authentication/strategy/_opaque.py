"""Opaque tokens: random bits for the client, a SHA-256 digest for storage.

The database row or Redis key holds only ``digest(token)``, so a dump of the store cannot be
replayed as a token (ASVS 5.0 7.2.3; the split Lucia recommends). SHA-256 without a salt is
enough here: the input has 256 bits of entropy, so there is nothing to brute-force.

A token also ends with a short digest of the user's password hash at issue time
(``<random>.<credential>``). The storage digest covers the whole token, so that suffix cannot be
altered, and the strategy compares it with the user row it loads anyway: a password change or
reset ends every opaque token issued before it, at no extra query, even when the change happens
where no strategy is at hand (a reset link, the CLI).

A token issued by an authentication backend also ends with that backend's tag
(``...~<backend tag>``, see :mod:`~fastapi_userkit.authentication.strategy._bound`): only that backend
accepts it (issue 16). The storage digest covers the tag as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["backend_tag_of", "credential_tag", "digest", "new_token", "session_id_of", "token_matches_credential"]

_SEPARATOR = "."
_BACKEND_SEPARATOR = "~"  # never produced by token_urlsafe or the tags (base64url)


def digest(token: str) -> str:
    """Return the unpadded base64url SHA-256 of ``token`` (43 characters)."""
    raw = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def credential_tag(hashed_password: str) -> str:
    """A 16-character tag of the password hash; changes whenever the password does."""
    return digest(f"fastapi-userkit:credential\x00{hashed_password}")[:16]


def new_token(hashed_password: str, session_id: str | None = None, backend_tag: str | None = None) -> str:
    """Return a new client token: 256 random bits and the credential tag.

    With ``session_id`` (refresh on), the token starts with it (``<session>.<random>.<tag>``):
    the stored digest covers it, so it cannot be swapped, and ending the session ends the token.
    With ``backend_tag``, the token ends with it (``...~<backend tag>``), covered the same way.
    """
    token = f"{secrets.token_urlsafe(32)}{_SEPARATOR}{credential_tag(hashed_password)}"
    if session_id is not None:
        token = f"{session_id}{_SEPARATOR}{token}"
    return token if backend_tag is None else f"{token}{_BACKEND_SEPARATOR}{backend_tag}"


def _body(token: str) -> str:
    """The token without its backend tag."""
    return token.partition(_BACKEND_SEPARATOR)[0]


def backend_tag_of(token: str) -> str | None:
    """The tag of the backend that issued ``token``, or ``None`` for a token issued without one."""
    _, separator, tag = token.partition(_BACKEND_SEPARATOR)
    return tag if separator else None


def session_id_of(token: str) -> str | None:
    """The session a token names, or ``None`` for a token issued without one."""
    parts = _body(token).split(_SEPARATOR)
    return parts[0] if len(parts) == 3 else None  # <session>.<random>.<tag>


def token_matches_credential(token: str, hashed_password: str) -> bool:
    """Whether ``token`` was issued for the current password hash."""
    _, separator, tag = _body(token).rpartition(_SEPARATOR)
    if not separator:
        return False
    return hmac.compare_digest(tag.encode("utf-8", "surrogatepass"), credential_tag(hashed_password).encode())
