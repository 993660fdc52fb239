"""What the authenticator learned about a request, kept on ``request.state`` for later steps.

The authenticator builds every backend's strategy for each authenticated request. Routes and
the manager reuse them: "log out everywhere" and a password change end the user's sessions in
every strategy, and a cookie session that changed its password gets a fresh cookie from the
backend that authenticated it. Nothing is kept between requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

__all__ = [
    "AuthContext",
    "auth_context",
    "remember_auth",
    "remember_backends",
    "remember_strategies",
    "request_backend_strategies",
    "request_backends",
    "request_strategies",
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
    """Keep the request's strategies, by backend name."""
    setattr(connection.state, _STRATEGIES, strategies)


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
