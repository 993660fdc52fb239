"""What the authenticator learned about a request, kept on ``request.state`` for later steps.

The authenticator builds every backend's strategy for each authenticated request. Routes reuse
them (a cookie session that changed its password gets a fresh cookie from the backend that
authenticated it), and "log out everywhere", a password change, a deactivation or a deletion end
the user's sessions in every strategy and refresh store of the request. For those, this record is
offered to the session-termination service as a provider (:func:`session_targets`, offered by
:func:`remember_strategies`): the user manager and the services never import this module, the
authentication package hands them what they need (issue 17). Nothing is kept between requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from fastapi_userkit._services.sessions import SessionTargets, offer_session_targets

__all__ = [
    "AuthContext",
    "auth_context",
    "remember_auth",
    "remember_backends",
    "remember_strategies",
    "request_backend_strategies",
    "request_backends",
    "request_strategies",
    "session_targets",
]

_STRATEGIES = "fastapi_userkit_strategies"
_BACKENDS = "fastapi_userkit_backends"
_AUTH = "fastapi_userkit_auth"


@dataclass(frozen=True)
class AuthContext:
    """Which backend and strategy authenticated the request, with which token."""

    backend: Any
    strategy: Any
    token: str


def remember_strategies(connection: HTTPConnection, strategies: dict[str, Any]) -> None:
    """Keep the request's strategies, by backend name; offer them and the stores for ending sessions."""
    setattr(connection.state, _STRATEGIES, strategies)
    offer_session_targets(connection, session_targets)


def request_strategies(connection: HTTPConnection | None) -> list[Any]:
    """The distinct strategies built for this request (none outside an authenticated request)."""
    if connection is None:
        return []
    strategies: dict[str, Any] = getattr(connection.state, _STRATEGIES, {})
    distinct: list[Any] = []
    for strategy in strategies.values():
        if all(strategy is not seen for seen in distinct):
            distinct.append(strategy)
    return distinct


def remember_backends(connection: HTTPConnection, backends: Sequence[Any]) -> None:
    """Keep the app's backends (their session stores are ended with the user's other sessions)."""
    setattr(connection.state, _BACKENDS, list(backends))


def request_backends(connection: HTTPConnection | None) -> list[Any]:
    """The backends of the app that authenticated this request (none outside one)."""
    if connection is None:
        return []
    backends: list[Any] = getattr(connection.state, _BACKENDS, [])
    return backends


def session_targets(connection: HTTPConnection) -> SessionTargets:
    """The strategies built for this request and the refresh stores of its backends (what to end)."""
    stores = tuple(backend.refresh.store for backend in request_backends(connection) if backend.refresh is not None)
    return SessionTargets(strategies=tuple(request_strategies(connection)), stores=stores)


def remember_auth(connection: HTTPConnection, context: AuthContext) -> None:
    """Record what authenticated the request."""
    setattr(connection.state, _AUTH, context)


def auth_context(connection: HTTPConnection | None) -> AuthContext | None:
    """What authenticated the request, if anything did."""
    if connection is None:
        return None
    context: AuthContext | None = getattr(connection.state, _AUTH, None)
    return context


def request_backend_strategies(connection: HTTPConnection | None) -> list[tuple[Any, Any]]:
    """Each backend of the app with the strategy built for it in this request (none outside one)."""
    if connection is None:
        return []
    strategies: dict[str, Any] = getattr(connection.state, _STRATEGIES, {})
    return [
        (backend, strategies[backend.name]) for backend in request_backends(connection) if backend.name in strategies
    ]
