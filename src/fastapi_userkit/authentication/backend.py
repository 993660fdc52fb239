"""An authentication backend: a transport paired with a strategy, under a name."""

from __future__ import annotations

import contextlib
from typing import Any, Generic

from fastapi import Response, status

from fastapi_userkit.authentication.strategy import Strategy, StrategyDestroyNotSupportedError
from fastapi_userkit.authentication.transport import Transport, TransportLogoutNotSupportedError
from fastapi_userkit.models import ID, UP
from fastapi_userkit.types import DependencyCallable

__all__ = ["AuthenticationBackend"]


class AuthenticationBackend(Generic[UP, ID]):
    """How tokens travel (``transport``) and what they are (``get_strategy``), under a ``name``.

    Args:
        name: Unique among the app's backends; used in route names (``auth:{name}.login``).
        transport: A :class:`BearerTransport` or :class:`CookieTransport`.
        get_strategy: A dependency returning the strategy (it may depend on a DB session).

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
    ) -> None:
        self.name = name
        self.transport = transport
        self.get_strategy = get_strategy

    async def login(self, strategy: Strategy[UP, ID], user: UP) -> Response:
        """Issue a token for ``user`` and return the transport's login response."""
        token = await strategy.write_token(user)
        return await self.transport.get_login_response(token)

    async def logout(self, strategy: Strategy[UP, ID], user: UP, token: str) -> Response:
        """Revoke ``token`` where the strategy can, and return the transport's logout response."""
        with contextlib.suppress(StrategyDestroyNotSupportedError):
            await strategy.destroy_token(token, user)
        try:
            response = await self.transport.get_logout_response()
        except TransportLogoutNotSupportedError:
            response = Response(status_code=status.HTTP_204_NO_CONTENT)
        return response

    def __repr__(self) -> str:
        return f"AuthenticationBackend(name={self.name!r})"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other
