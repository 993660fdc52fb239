"""The assurance of the request at hand, for routes and rules that ask for more (issue 18, item 4).

``current_user(aal=2)`` and ``current_user(fresh_within=300)`` check it for a route. Other code
asks :func:`request_assurance`: "a fresh second factor if the user has one" is the user's
factors compared with ``request_assurance(request)``. The assurance is read from the request's
token only when asked, so requests that never ask pay nothing for it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from fastapi_userkit.authentication._context import auth_context
from fastapi_userkit.authentication.assurance import UNKNOWN_ASSURANCE, Assurance
from fastapi_userkit.authentication.strategy._bound import is_assurance_bound

__all__ = ["request_assurance", "token_assurance"]


def token_assurance(strategy: Any, token: str) -> Assurance:
    """The assurance of a token ``strategy`` has just accepted.

    Level 1 at an unknown time when the token carries none (issued before the upgrade, or by
    ``write_token(user)`` in app code) or the strategy cannot say (a custom strategy).
    """
    if not is_assurance_bound(strategy):
        return UNKNOWN_ASSURANCE
    return strategy.assurance_of(token)


def request_assurance(connection: HTTPConnection | None) -> Assurance | None:
    """How the user of an authenticated request signed in; ``None`` outside one.

    Asked after a ``current_user`` dependency has run for the request (it records what
    authenticated it).
    """
    context = auth_context(connection)
    return None if context is None else token_assurance(context.strategy, context.token)
