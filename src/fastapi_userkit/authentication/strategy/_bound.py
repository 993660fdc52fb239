"""Which backend issued a token: the tag a backend writes into its tokens, and the capability checks.

A backend's tag is a short digest of its name rather than the name itself, so it fits the
base64url alphabet of opaque tokens and tells a reader of a token nothing about the app.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, TypeGuard

from fastapi_userkit._contracts import RevokeAllStrategy, revokes_all
from fastapi_userkit.authentication.strategy.base import AssuranceBoundStrategy, BackendBoundStrategy

__all__ = ["backend_tag", "can_revoke_all", "is_assurance_bound", "is_backend_bound"]

# One answer per strategy class: a runtime-checkable protocol is checked attribute by attribute,
# which is too slow for every request; a class does not change what it implements.
_BOUND: dict[type, bool] = {}
_ASSURED: dict[type, bool] = {}


def backend_tag(name: str) -> str:
    """The tag of the backend named ``name``: 11 base64url characters (66 bits) of a SHA-256."""
    raw = hashlib.sha256(f"fastapi-userkit:backend\x00{name}".encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(raw).decode()[:11]


def is_backend_bound(strategy: object) -> TypeGuard[BackendBoundStrategy[Any, Any]]:
    """Whether ``strategy`` writes and reads backend tags and session ids (:class:`BackendBoundStrategy`)."""
    kind = type(strategy)
    known = _BOUND.get(kind)
    if known is None:
        known = _BOUND[kind] = isinstance(strategy, BackendBoundStrategy)
    return known


def is_assurance_bound(strategy: object) -> TypeGuard[AssuranceBoundStrategy[Any, Any]]:
    """Whether ``strategy`` writes and reads the assurance of a sign-in (:class:`AssuranceBoundStrategy`)."""
    kind = type(strategy)
    known = _ASSURED.get(kind)
    if known is None:
        known = _ASSURED[kind] = isinstance(strategy, AssuranceBoundStrategy)
    return known


def can_revoke_all(strategy: object) -> TypeGuard[RevokeAllStrategy]:
    """Whether ``strategy``, as configured, can end every token of a user."""
    return revokes_all(strategy) and strategy.can_destroy_all_tokens
