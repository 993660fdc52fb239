"""An authentication backend: a transport paired with a strategy, under a name."""

from __future__ import annotations

import contextlib
from typing import Any, Generic, cast

from fastapi import Response, status
from starlette.requests import HTTPConnection

from fastapi_userkit._contracts import carries_refresh
from fastapi_userkit.authentication._dependency import strategy_dependency
from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.authentication.strategy import Strategy, StrategyDestroyNotSupportedError
from fastapi_userkit.authentication.strategy._bound import (
    backend_tag,
    can_revoke_all,
    is_assurance_bound,
    is_backend_bound,
)
from fastapi_userkit.authentication.transport import Transport, TransportLogoutNotSupportedError
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.models import ID, UP
from fastapi_userkit.sessions import flow as session_flow
from fastapi_userkit.sessions.service import SessionService
from fastapi_userkit.sessions.settings import RefreshSettings
from fastapi_userkit.types import DependencyCallable

__all__ = ["AuthenticationBackend"]


class AuthenticationBackend(Generic[UP, ID]):
    """How tokens travel (``transport``) and what they are (``get_strategy``), under a ``name``.

    Args:
        name: Unique among the app's backends; used in route names (``auth:{name}.login``).
        transport: A :class:`BearerTransport` or :class:`CookieTransport`.
        get_strategy: A dependency returning the strategy (it may depend on a DB session).
        refresh: Turns on refresh tokens and server-side sessions (new in fastapi-userkit; see
            :class:`~fastapi_userkit.sessions.RefreshSettings`). ``None``, the default, keeps
            FastAPI Users' login and logout responses exactly.

    Raises:
        ConfigurationError: ``refresh`` with a transport that cannot carry a refresh token.

    Example::

        bearer = BearerTransport(tokenUrl="auth/jwt/login")

        def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
            return JWTStrategy(secret=SECRET, lifetime_seconds=3600)

        auth_backend = AuthenticationBackend(name="jwt", transport=bearer, get_strategy=get_jwt_strategy)
    """

    name: str
    transport: Transport

    def __init__(
        self,
        name: str,
        transport: Transport,
        get_strategy: DependencyCallable[Strategy[UP, ID]],
        *,
        refresh: RefreshSettings | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.get_strategy = get_strategy
        self.refresh = refresh
        self.sessions = SessionService(refresh) if refresh is not None else None
        self.tag = backend_tag(name)
        """Written into every token this backend issues; only this backend accepts such a token."""
        if refresh is not None and not carries_refresh(transport):
            raise ConfigurationError(f"Transport {type(transport).__name__} cannot carry refresh tokens.")

    @property
    def strategy_dependency(self) -> DependencyCallable[Strategy[UP, ID]]:
        """``get_strategy`` as the routes declare it: a plain ``def`` is called on the event loop.

        FastAPI would run a plain ``def`` dependency in its thread pool on every request; the
        declaration keeps its parameters and runs it on the loop instead (``_dependency``).
        """
        return cast(DependencyCallable[Strategy[UP, ID]], strategy_dependency(self.get_strategy))

    async def login(self, strategy: Strategy[UP, ID], user: UP, *, assurance: Assurance | None = None) -> Response:
        """Issue a token for ``user`` and return the transport's login response."""
        return await self.transport.get_login_response(await self.write_token(strategy, user, assurance=assurance))

    async def write_token(
        self,
        strategy: Strategy[UP, ID],
        user: UP,
        *,
        session_id: str | None = None,
        assurance: Assurance | None = None,
    ) -> str:
        """Issue a token for ``user`` that names this backend (and ``session_id``) when the strategy can.

        With ``assurance``, the token also says how the user signed in, when the strategy can
        (every strategy of the library can); without it, it reads as level 1 at an unknown time.

        Raises:
            ConfigurationError: ``session_id`` with a strategy that cannot bind tokens to sessions
                (a custom strategy that is no :class:`~fastapi_userkit.authentication.strategy.BackendBoundStrategy`).
        """
        if assurance is not None and is_assurance_bound(strategy):
            return await strategy.write_token(user, session_id=session_id, backend_tag=self.tag, assurance=assurance)
        if is_backend_bound(strategy):
            return await strategy.write_token(user, session_id=session_id, backend_tag=self.tag)
        if session_id is not None:
            raise ConfigurationError(
                f"{type(strategy).__name__} cannot bind access tokens to sessions; "
                "use JWTStrategy, DatabaseStrategy or RedisStrategy with refresh."
            )
        return await strategy.write_token(user)

    async def logout(self, strategy: Strategy[UP, ID], user: UP, token: str) -> Response:
        """Revoke ``token`` where the strategy can, and return the transport's logout response."""
        with contextlib.suppress(StrategyDestroyNotSupportedError):
            await strategy.destroy_token(token, user)
        try:
            response = await self.transport.get_logout_response()
        except TransportLogoutNotSupportedError:
            response = Response(status_code=status.HTTP_204_NO_CONTENT)
        return response

    async def login_for_request(
        self, strategy: Strategy[UP, ID], user: UP, request: HTTPConnection, *, assurance: Assurance | None = None
    ) -> Response:
        """Log ``user`` in: :meth:`login`, or with refresh on, a new session and both tokens.

        ``assurance`` (how the user signed in) goes into the token and, with refresh on, the
        session, whose later access tokens carry it too.
        """
        if self.sessions is None:
            return await self.login(strategy, user, assurance=assurance)
        session, refresh_token = await self.sessions.start(user, request, assurance=assurance)
        return await session_flow.issue_session_tokens(self, strategy, user, session, refresh_token, request)

    async def logout_for_request(
        self, strategy: Strategy[UP, ID], user: UP, token: str, request: HTTPConnection
    ) -> Response:
        """:meth:`logout`; with refresh on, also end the token's session and clear the refresh cookie."""
        response = await self.logout(strategy, user, token)
        if self.sessions is not None:
            await session_flow.end_bound_session(self, strategy, token, request, response)
        return response

    async def accepts(self, strategy: Strategy[UP, ID], token: str, user: UP) -> bool:
        """Whether a token the strategy has just accepted may authenticate through this backend.

        A token that names another backend is refused: that backend issued it and is the one
        that can end it (logout, session end, revocation), so a sibling backend sharing the
        strategy's secret or storage must not take it up (issue 16). A token that names a session
        is accepted only while that session is live, and only by a backend with sessions. Tokens
        that name neither (a custom strategy, or ``write_token`` called by app code) are
        checked by their strategy alone, as in FastAPI Users.
        """
        if not is_backend_bound(strategy):
            return True
        issuer = strategy.backend_tag_of(token)
        if issuer is not None and issuer != self.tag:
            return False
        session_id = strategy.session_id_of(token)
        if session_id is None:
            return True
        return self.sessions is not None and await session_flow.session_allows(self.sessions, session_id, user)

    def can_end_all_tokens(self, strategy: Strategy[UP, ID]) -> bool:
        """Whether "log out everywhere" ends every token this backend issued with ``strategy``.

        With refresh on, every token the backend issues names its session, and deleting the
        sessions ends them; otherwise the strategy must be able to end a user's tokens itself.
        """
        return self.sessions is not None or can_revoke_all(strategy)

    def __repr__(self) -> str:
        return f"AuthenticationBackend(name={self.name!r})"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other
