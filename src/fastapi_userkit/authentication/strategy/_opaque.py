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

After the tag comes the assurance of the sign-in (issue 18): ``...~<backend tag>~<aal>.<auth_time>``
(``~<aal>`` alone when the time is unknown). It lives in the token rather than in a new column
or key field: the digest covers it, so a client that alters it presents a token the store does
not know, and neither the access-token table nor the Redis values change shape, so an app
upgrades without a migration. A token without it (issued before, or by app code calling
``write_token(user)`` without a backend) reads as level 1 at an unknown time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from fastapi_userkit.authentication.assurance import UNKNOWN_ASSURANCE, Assurance

__all__ = [
    "assurance_of",
    "backend_tag_of",
    "credential_tag",
    "digest",
    "new_token",
    "session_id_of",
    "token_matches_credential",
]

_SEPARATOR = "."
_BACKEND_SEPARATOR = "~"  # never produced by token_urlsafe or the tags (base64url)


def digest(token: str) -> str:
    """Return the unpadded base64url SHA-256 of ``token`` (43 characters)."""
    raw = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def credential_tag(hashed_password: str) -> str:
    """A 16-character tag of the password hash; changes whenever the password does."""
    return digest(f"fastapi-userkit:credential\x00{hashed_password}")[:16]


def new_token(
    hashed_password: str,
    session_id: str | None = None,
    backend_tag: str | None = None,
    assurance: Assurance | None = None,
) -> str:
    """Return a new client token: 256 random bits and the credential tag.

    With ``session_id`` (refresh on), the token starts with it (``<session>.<random>.<tag>``):
    the stored digest covers it, so it cannot be swapped, and ending the session ends the token.
    With ``backend_tag``, the token ends with it (``...~<backend tag>``), covered the same way,
    and then with ``assurance`` when given (``~<aal>.<auth_time>``); an assurance needs a tag.
    """
    token = f"{secrets.token_urlsafe(32)}{_SEPARATOR}{credential_tag(hashed_password)}"
    if session_id is not None:
        token = f"{session_id}{_SEPARATOR}{token}"
    if backend_tag is None:
        return token
    token = f"{token}{_BACKEND_SEPARATOR}{backend_tag}"
    if assurance is None:
        return token
    level = str(assurance.aal)
    if assurance.auth_time is not None:
        level = f"{level}{_SEPARATOR}{assurance.auth_time}"
    return f"{token}{_BACKEND_SEPARATOR}{level}"


def _body(token: str) -> str:
    """The token without its backend tag."""
    return token.partition(_BACKEND_SEPARATOR)[0]


def backend_tag_of(token: str) -> str | None:
    """The tag of the backend that issued ``token``, or ``None`` for a token issued without one."""
    _, separator, tail = token.partition(_BACKEND_SEPARATOR)
    return tail.partition(_BACKEND_SEPARATOR)[0] if separator else None


def assurance_of(token: str) -> Assurance:
    """The assurance ``token`` carries (level 1 at an unknown time when it carries none).

    Asked of tokens the store has just accepted, so the segment was written by :func:`new_token`;
    anything that does not parse reads as the unknown assurance all the same.
    """
    segments = token.split(_BACKEND_SEPARATOR)
    if len(segments) != 3:  # <body>~<tag>~<assurance>
        return UNKNOWN_ASSURANCE
    level, separator, auth_time = segments[2].partition(_SEPARATOR)
    try:
        return Assurance(int(level), int(auth_time) if separator else None)
    except ValueError:
        return UNKNOWN_ASSURANCE


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
