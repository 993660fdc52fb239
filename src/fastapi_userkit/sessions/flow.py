"""What a backend with refresh on does at login, refresh, logout and on every authenticated request.

An access token issued for a session names it (a ``sid`` claim in a JWT, a segment of an
opaque token covered by its stored digest), so ending the session ends its access tokens on
their next request (ASVS 5.0 7.4.1): the authenticator asks :func:`session_allows`, one lookup
by primary key. Tokens issued without a session (``AuthenticationBackend.login``, used by
code written for FastAPI Users) name none and are checked by their strategy alone.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection
from starlette.routing import NoMatchFound

from fastapi_userkit._contracts import Expiring
from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.authentication.step_up import request_assurance
from fastapi_userkit.authentication.strategy._bound import is_backend_bound
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.sessions.models import RefreshCookie, SessionRecord

if TYPE_CHECKING:
    from fastapi import Response

    from fastapi_userkit.sessions.service import SessionService

__all__ = [
    "access_lifetime",
    "bound_session_id",
    "end_bound_session",
    "issue_session_tokens",
    "refresh_cookie",
    "renew_cookie_login",
    "session_allows",
    "session_assurance",
    "write_bound_token",
]


def _parse(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def bound_session_id(strategy: Any, token: str) -> uuid.UUID | None:
    """The session an accepted access token is bound to, or ``None``."""
    raw = strategy.session_id_of(token) if is_backend_bound(strategy) else None
    return None if raw is None else _parse(raw)


async def session_allows(sessions: SessionService, raw_session_id: str, user: Any) -> bool:
    """Whether the session an accepted access token names is still live for ``user``.

    Only tokens the strategy has just accepted are asked about, so a session id in them was
    written by this library; one that does not parse is refused all the same.
    """
    session_id = _parse(raw_session_id)
    return session_id is not None and await sessions.allows(session_id, user)


def session_assurance(session: SessionRecord) -> Assurance:
    """The assurance a session's access tokens carry: that of its sign-in or last re-authentication."""
    return Assurance(session.aal, session.auth_time)


async def write_bound_token(
    backend: Any, strategy: Any, user: Any, session_id: uuid.UUID, assurance: Assurance | None = None
) -> str:
    """Issue an access token of ``backend`` bound to ``session_id``, carrying ``assurance``.

    Raises:
        ConfigurationError: The strategy cannot bind tokens to sessions (a custom strategy
            that is no ``BackendBoundStrategy``); refresh needs one of the library's strategies.
    """
    token: str = await backend.write_token(strategy, user, session_id=str(session_id), assurance=assurance)
    return token


def access_lifetime(strategy: Any) -> int | None:
    """The strategy's access-token lifetime in seconds (``expires_in``), if it has one."""
    lifetime = strategy.lifetime_seconds if isinstance(strategy, Expiring) else None
    return lifetime if isinstance(lifetime, int) else None


def refresh_cookie(backend: Any, connection: HTTPConnection, max_age: int) -> RefreshCookie:
    """The refresh cookie of ``backend``, scoped to its refresh route unless a path is configured.

    Raises:
        ConfigurationError: No ``cookie_path`` is set and the backend's auth router (with its
            refresh route) is not mounted in the app.
    """
    settings = backend.refresh
    path = settings.cookie_path
    if path is None:
        try:
            path = connection.url_for(f"auth:{backend.name}.refresh").path
        except NoMatchFound as exc:
            raise ConfigurationError(
                f"Mount the auth router of backend {backend.name!r}, or set RefreshSettings.cookie_path."
            ) from exc
    return RefreshCookie(name=settings.cookie_name, path=path, max_age=max_age)


async def issue_session_tokens(
    backend: Any, strategy: Any, user: Any, session: SessionRecord, refresh_token: str, connection: HTTPConnection
) -> Response:
    """The transport's response carrying a new access token for ``session`` and ``refresh_token``.

    The access token carries the session's assurance: a refresh never raises it (issue 18).
    """
    access_token = await write_bound_token(backend, strategy, user, session.id, session_assurance(session))
    cookie = refresh_cookie(backend, connection, backend.sessions.seconds_left(session))
    response: Response = await backend.transport.get_login_response_with_refresh(
        access_token, refresh_token, expires_in=access_lifetime(strategy), refresh_cookie=cookie
    )
    return response


async def renew_cookie_login(backend: Any, strategy: Any, user: Any, connection: HTTPConnection, response: Any) -> None:
    """Give a cookie client a fresh login on ``response`` (after its password change ended its session).

    The new login keeps the assurance of the request that made the change, no more.
    """
    transport: Any = backend.transport
    assurance = request_assurance(connection)
    if backend.sessions is None:
        transport.set_login_cookie(response, await backend.write_token(strategy, user, assurance=assurance))
        return
    session, refresh_token = await backend.sessions.start(user, connection, assurance=assurance)
    transport.set_login_cookie(
        response, await write_bound_token(backend, strategy, user, session.id, session_assurance(session))
    )
    cookie = refresh_cookie(backend, connection, backend.sessions.seconds_left(session))
    transport.set_refresh_cookie(response, refresh_token, cookie)


async def end_bound_session(backend: Any, strategy: Any, token: str, connection: HTTPConnection, response: Any) -> None:
    """At logout: end the session the access token is bound to, and clear the refresh cookie."""
    session_id = bound_session_id(strategy, token)
    if session_id is not None:
        await backend.sessions.end(session_id)
    backend.transport.clear_refresh_cookie(response, refresh_cookie(backend, connection, 0))
