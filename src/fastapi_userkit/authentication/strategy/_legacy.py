"""Tokens FastAPI Users issued before the move, kept working after it (issue 21, item 2).

FastAPI Users stores its database and Redis tokens in plain text: the ``accesstoken`` row's
``token`` column, and the key ``{key_prefix}{token}``. The migration step
(:mod:`fastapi_userkit.migrations.tokens`) replaces each with its *legacy digest*::

    "~" + base64url(SHA-256("fastapi-userkit:legacy-token\\x00" + token))[:42]   (43 characters)

Why it cannot be confused with a new token's storage: a new token is stored as the plain
base64url SHA-256 of the token (43 characters of ``[A-Za-z0-9_-]``), which never holds ``~``;
the legacy digest always starts with it, and is computed in its own domain (the prefix inside
the hash), so no token has a legacy digest equal to another token's new digest.

Why it cannot be confused with a token: a token FastAPI Users issued is
``secrets.token_urlsafe()``, exactly 43 base64url characters (:func:`is_legacy_token`); a
fastapi-userkit token always holds a ``.`` (its credential tag). Only a token of the legacy form
is looked up as a legacy digest, and a legacy digest (it holds ``~``) is never of that form.

Why a stolen dump still cannot be replayed: the store holds 252 bits of a SHA-256 of 256 random
bits, which no one can invert, and presenting the stored value itself is looked up as a new
token (it holds ``~``), whose digest matches nothing (ASVS 5.0 7.2.3, as for new tokens).

A legacy token has no credential tag, so a password change must end it some other way:

* database rows: the manager deletes the user's rows of the access-token table mapped beside
  the user table at every password change, reset, deactivation and deletion, with or without a
  request (:meth:`~fastapi_userkit.BaseUserManager.end_sessions`); the strategy's own
  ``destroy_all_tokens`` does too;
* Redis keys: the value is ``"<credential tag>:<user id>"``, the tag of the password hash the
  user had when the key was migrated, checked against the user row at every use exactly like a
  new token's tag: a password change or reset ends it even where no strategy is at hand.
"""

from __future__ import annotations

import hmac
import re

from fastapi_userkit.authentication.strategy._opaque import credential_tag, digest

__all__ = [
    "LEGACY_MARK",
    "is_legacy_token",
    "legacy_digest",
    "legacy_redis_user_id",
    "legacy_redis_value",
    "legacy_redis_value_matches",
]

LEGACY_MARK = "~"
"""First character of every legacy digest; never in a new digest (base64url)."""

# secrets.token_urlsafe() with its default 32 bytes: what FastAPI Users 15 issues.
_LEGACY_FORM = re.compile(r"[A-Za-z0-9_-]{43}")
_DOMAIN = "fastapi-userkit:legacy-token\x00"


def is_legacy_token(token: str) -> bool:
    """Whether ``token`` has the form of a token FastAPI Users issued (no fastapi-userkit token has)."""
    return _LEGACY_FORM.fullmatch(token) is not None


def legacy_digest(token: str) -> str:
    """The stored form of a token FastAPI Users issued: ``~`` and 42 characters of a domain-separated SHA-256."""
    return f"{LEGACY_MARK}{digest(_DOMAIN + token)[:42]}"


def legacy_redis_value(user_id: object, hashed_password: str) -> str:
    """The value of a migrated Redis key: the credential tag of the user's password hash, then the id."""
    return f"{credential_tag(hashed_password)}:{user_id}"


def legacy_redis_user_id(value: str) -> str | None:
    """The user id in a migrated Redis value, or ``None`` if ``value`` is not one."""
    tag, separator, user_id = value.partition(":")
    return user_id if separator and len(tag) == 16 and user_id else None


def legacy_redis_value_matches(value: str, hashed_password: str) -> bool:
    """Whether a migrated Redis value was written for the password hash the user has now."""
    tag = value.partition(":")[0]
    return hmac.compare_digest(tag.encode("utf-8", "surrogatepass"), credential_tag(hashed_password).encode())
