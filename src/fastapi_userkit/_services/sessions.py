"""Ending a user's sessions, given the strategies and stores to end them in (issue 17).

A password change or reset, a deactivation, a deletion and "log out everywhere" end every stored
session of the user (ASVS 5.0 7.4.2, 7.4.3, 7.4.5; issue 16, item 8). Where those sessions live
is a matter of wiring: the token and session tables beside the user table, the strategies of the
app's backends (Redis keys, revoked JWTs) and the refresh-session stores. This module ends them;
it never looks for them.

Who knows which strategies and stores a request was authenticated with? The authentication
package: its authenticator builds a strategy per backend for each request and keeps that record
(``authentication/_context.py``). The user manager does not read that record and this module
does not import the authentication package (the dependency runs one way: authentication ->
services, as ``tests/test_architecture.py`` checks). Instead the authentication side *offers* a
:class:`SessionTargetsProvider` for the request it authenticated (:func:`offer_session_targets`,
called when it records the request's strategies); :func:`request_session_targets` hands the
request to that provider and gets back plain :class:`SessionTargets`. So:

* a route, a page or app code calling ``user_manager.update(..., request=request)`` with an
  authenticated request ends the sessions of that request's strategies and backends' stores,
  whatever manager instance it calls (the offer travels with the request, not the manager);
* outside a request (a job, the CLI), or for a request nobody authenticated (reset password),
  nothing is offered and the targets are the ones the manager was constructed with
  (``session_strategies``, ``session_stores``), plus the user database's own session tables.

The services stay free of ``request.state`` knowledge beyond the one slot where the offer sits.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from starlette.requests import HTTPConnection

from fastapi_userkit._contracts import AllTokensDestroying, StrategyDestroyNotSupportedError, destroys_all_tokens
from fastapi_userkit.db.base import UserSessionsDatabase

__all__ = [
    "SessionTargets",
    "SessionTargetsProvider",
    "SessionTermination",
    "UserSessionsEnding",
    "destroy_all_tokens",
    "end_refresh_sessions",
    "offer_session_targets",
    "request_session_targets",
]

# The one request slot this module reads: the provider the authentication side offered.
_PROVIDER = "fastapi_userkit_session_targets"

_T = TypeVar("_T")


class UserSessionsEnding(Protocol):
    """A refresh-session store, as ending a user's sessions sees it.

    Every :class:`~fastapi_userkit.sessions.SessionStore` is one (the SQL and Redis stores of the
    library); declared here, narrow, so the manager names it without importing the sessions
    package (whose Redis store needs the ``redis`` extra).
    """

    async def delete_for_user(self, user_id: Any, *, keep: uuid.UUID | None = None) -> int:
        """Delete every session of the user (but ``keep``) with its refresh tokens; return how many."""
        ...  # pragma: no cover - protocol


@dataclass(frozen=True)
class SessionTargets:
    """Where a user's sessions live, as far as one caller knows."""

    strategies: tuple[object, ...] = ()
    """Token strategies; those that are :class:`~fastapi_userkit._contracts.AllTokensDestroying` end their tokens."""

    stores: tuple[UserSessionsEnding, ...] = ()
    """Refresh-session stores (see :mod:`fastapi_userkit.sessions`)."""


NO_TARGETS = SessionTargets()


class SessionTargetsProvider(Protocol):
    """Gives the strategies and refresh stores a request was authenticated with.

    The authentication package implements it over its record of the request
    (``authentication._context.session_targets``) and offers it with :func:`offer_session_targets`.
    """

    def __call__(self, connection: HTTPConnection, /) -> SessionTargets:
        """The targets of ``connection``."""
        ...  # pragma: no cover - protocol


def offer_session_targets(connection: HTTPConnection, provider: SessionTargetsProvider) -> None:
    """Let the services end sessions in what authenticated ``connection`` (called by the authenticator)."""
    setattr(connection.state, _PROVIDER, provider)


def request_session_targets(connection: HTTPConnection | None) -> SessionTargets:
    """The targets offered for ``connection``; none outside a request or for an unauthenticated one."""
    if connection is None:
        return NO_TARGETS
    provider: SessionTargetsProvider | None = getattr(connection.state, _PROVIDER, None)
    return NO_TARGETS if provider is None else provider(connection)


def _distinct(items: Iterable[_T]) -> list[_T]:
    # By identity: two backends may share one strategy or store object, which ends once.
    seen: list[_T] = []
    for item in items:
        if all(item is not known for known in seen):
            seen.append(item)
    return seen


async def end_refresh_sessions(user_id: Any, stores: Iterable[UserSessionsEnding]) -> None:
    """Delete every refresh session of the user in each distinct store."""
    for store in _distinct(stores):
        await store.delete_for_user(user_id)


async def destroy_all_tokens(user: Any, strategies: Iterable[object]) -> None:
    """End every token of ``user`` in each strategy that can (the declared capability, issue 17).

    A strategy without the capability, or one whose configuration keeps no state to end
    (:class:`~fastapi_userkit._contracts.StrategyDestroyNotSupportedError`, a plain JWT), is
    skipped: its tokens die with the password-hash tag they carry, or at expiry.
    """
    for strategy in _distinct(strategies):
        if not destroys_all_tokens(strategy):
            continue
        with contextlib.suppress(StrategyDestroyNotSupportedError):
            await strategy.destroy_all_tokens(user)


@dataclass(frozen=True)
class SessionTermination:
    """Ends a user's sessions for good: the stored rows, and the tokens and sessions kept elsewhere.

    Args:
        user_db: The user database; when it is a
            :class:`~fastapi_userkit.db.base.UserSessionsDatabase`, the token and session rows
            mapped beside the user table are deleted, with or without a request.
        strategies: Strategies to end besides the request's (the manager's ``session_strategies``).
        stores: Refresh-session stores to end besides the request's (``session_stores``).
        targets_of: How the targets of a request are found (:func:`request_session_targets`).
    """

    user_db: object
    strategies: Sequence[AllTokensDestroying] = ()
    stores: Sequence[UserSessionsEnding] = ()
    targets_of: Callable[[HTTPConnection | None], SessionTargets] = request_session_targets

    async def end_stored(self, user_id: Any) -> None:
        """Delete the rows of the user's tokens and sessions kept in the user database's tables."""
        if isinstance(self.user_db, UserSessionsDatabase):
            await self.user_db.delete_user_sessions(user_id)

    def targets(self, request: HTTPConnection | None) -> SessionTargets:
        """The request's targets followed by the configured ones, each once."""
        offered = self.targets_of(request)
        return SessionTargets(
            strategies=tuple(_distinct([*offered.strategies, *self.strategies])),
            stores=tuple(_distinct([*offered.stores, *self.stores])),
        )
