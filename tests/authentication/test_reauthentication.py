"""The re-authentication service's edges, and reading a request's assurance (issue 18, item 4)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.requests import Request

from fastapi_userkit import BaseUserManager
from fastapi_userkit._mfa_exceptions import InvalidMFACode, MFANotEnabled
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.authentication._context import AuthContext, remember_auth
from fastapi_userkit.authentication.assurance import UNKNOWN_ASSURANCE, Assurance, ReauthenticationCodeRequired
from fastapi_userkit.authentication.reauthentication import Reauthentication, SessionEnded
from fastapi_userkit.authentication.step_up import request_assurance, token_assurance
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.security.ratelimit.limiter import FlowGuard
from fastapi_userkit.sessions import RefreshSettings
from tests.app_factory import SECRET
from tests.authentication.conftest import add_user
from tests.conftest import SessionMaker
from tests.models import RefreshToken, User, UserSession

Manager = BaseUserManager[User, uuid.UUID]


class _Factor:
    """A second factor whose code check fails the way it is told to."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def required(self, user: Any) -> bool:
        return True

    async def verify(self, user: Any, code: str) -> str:
        raise self.error


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": [], "client": ("127.0.0.1", 1)})


def _reauthentication(backend: AuthenticationBackend[User, uuid.UUID]) -> Reauthentication[User, uuid.UUID]:
    return Reauthentication(backend, FlowGuard(None, "login"))


def _backend(refresh: RefreshSettings | None = None) -> AuthenticationBackend[User, uuid.UUID]:
    return AuthenticationBackend("jwt", BearerTransport("login"), lambda: JWTStrategy(SECRET, 3600), refresh=refresh)


async def test_a_factor_gone_or_unreadable_meanwhile_is_a_wrong_code(
    sqlite_db: SessionMaker, user_manager: Manager
) -> None:
    """A second-factor error other than a wrong code (factor removed meanwhile) answers as a wrong code."""
    user = await add_user(sqlite_db)
    service = _reauthentication(_backend())

    with pytest.raises(InvalidMFACode) as caught:
        await service.check(_request(), user_manager, user, "password", "123456", _Factor(MFANotEnabled()))

    assert isinstance(caught.value.__cause__, MFANotEnabled)


async def test_a_missing_code_is_refused_before_the_password_is_checked(
    sqlite_db: SessionMaker, user_manager: Manager
) -> None:
    """A user with a factor who sends no code is told so, whatever the password."""
    user = await add_user(sqlite_db)

    with pytest.raises(ReauthenticationCodeRequired):
        await _reauthentication(_backend()).check(_request(), user_manager, user, "wrong", None, _Factor(ValueError()))


async def test_a_session_ended_meanwhile_is_not_renewed(sqlite_db: SessionMaker) -> None:
    """Re-authenticating a token whose session has ended raises SessionEnded (the route answers 401)."""
    user = await add_user(sqlite_db)
    store = SQLAlchemySessionStore(sqlite_db, UserSession, RefreshToken)
    backend = _backend(RefreshSettings(store=store, secret=SECRET))
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    assert backend.sessions is not None
    session, _ = await backend.sessions.start(user, None)
    token = await backend.write_token(strategy, user, session_id=str(session.id))
    await backend.sessions.end(session.id)

    with pytest.raises(SessionEnded):
        await _reauthentication(backend).renew(_request(), strategy, user, token, Assurance(1, 5))


async def test_request_assurance_reads_the_recorded_token() -> None:
    """Outside an authenticated request there is none; inside, the token's; a custom strategy's is unknown."""
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    user = User(id=uuid.uuid4(), email="x@example.com", hashed_password="h")
    token = await strategy.write_token(user, backend_tag="t", assurance=Assurance(2, 9))
    request = _request()
    before = request_assurance(request)
    remember_auth(request, AuthContext(object(), strategy, token))

    assert before is None
    assert request_assurance(None) is None
    assert request_assurance(request) == Assurance(2, 9)
    assert token_assurance(object(), token) == UNKNOWN_ASSURANCE
