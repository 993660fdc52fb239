"""Why a refresh token was refused."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi_userkit.exceptions import FastAPIUsersException

__all__ = ["DuplicateRefreshCookie", "InvalidRefreshToken", "RefreshTokenReused"]


class InvalidRefreshToken(FastAPIUsersException):
    """The refresh token is unknown, expired, or its session has ended."""

    default_message = "The refresh token is invalid, expired or revoked."
    code = "INVALID_REFRESH_TOKEN"


class DuplicateRefreshCookie(InvalidRefreshToken):
    """The request carries more than one refresh-token cookie.

    A sibling subdomain can plant a cookie of the same name (for the parent domain, or a longer
    path); browsers then send both, in an order the server cannot trust. Taking either could
    swap the browser into the planter's session (login CSRF), so neither is taken (issue 16).
    """

    default_message = "The request carries more than one refresh-token cookie."
    code = "REFRESH_COOKIE_DUPLICATED"


class RefreshTokenReused(InvalidRefreshToken):
    """An already-rotated refresh token was presented again; its whole family was revoked.

    RFC 9700 section 4.14.2: the server cannot tell whether the legitimate client or an
    attacker sent the stale token, so it ends the session both of them hold.

    Attributes:
        user_id: The owner of the revoked session.
        session_id: The revoked session (token family).
    """

    default_message = "A rotated refresh token was reused; its session was revoked."
    code = "REFRESH_TOKEN_REUSED"

    def __init__(self, user_id: Any, session_id: uuid.UUID) -> None:
        super().__init__()
        self.user_id = user_id
        self.session_id = session_id
