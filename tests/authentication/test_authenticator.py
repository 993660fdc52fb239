"""The Authenticator: backends in order, enabled backends, the user flags, and strategy factories.

No ``from __future__ import annotations`` here: the probe routes name dependencies that are local
variables, and FastAPI can only resolve a route's annotations if they are real objects.
"""

import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from fastapi_userkit import BaseUserManager, FastAPIUsers
from fastapi_userkit.authentication import (
    AuthenticationBackend,
    Authenticator,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
)
from fastapi_userkit.authentication.authenticator import (
    DuplicateBackendNamesError,
    name_to_strategy_variable_name,
    name_to_variable_name,
)
from fastapi_userkit.exceptions import ConfigurationError
from tests.app_factory import SECRET, make_app
from tests.authentication.conftest import add_user
from tests.conftest import SessionMaker
from tests.models import User

Backend = AuthenticationBackend[User, uuid.UUID]
OTHER_SECRET = "a-second-secret-for-the-cookie-backend-0123456789"


def jwt_strategy(secret: str = SECRET) -> JWTStrategy[User, uuid.UUID]:
    """A one-hour JWT strategy."""
    return JWTStrategy(secret, 3600)


def bearer_backend(name: str = "bearer", get_strategy: Callable[..., Any] = jwt_strategy) -> Backend:
    """A Bearer JWT backend."""
    return AuthenticationBackend(name, BearerTransport("login"), get_strategy)


def cookie_backend(name: str = "cookie") -> Backend:
    """A cookie JWT backend signing with another secret than the Bearer one."""
    return AuthenticationBackend(name, CookieTransport(cookie_secure=False), lambda: jwt_strategy(OTHER_SECRET))


def unused_user_manager() -> BaseUserManager[User, uuid.UUID]:
    """A user-manager dependency for tests that fail before any request."""
    raise AssertionError("not called")


def get_user_manager_of(sqlite_db: SessionMaker) -> Callable[..., Any]:
    """The documented user-manager dependency of the test app."""
    return make_app(sqlite_db).fastapi_users.get_user_manager


def probe_app(authenticator: Authenticator[User, uuid.UUID], **flags: Any) -> FastAPI:
    """An app whose ``/user`` and ``/user-token`` routes show what the dependencies give."""
    app = FastAPI()
    current_user = authenticator.current_user(**flags)
    current_user_token = authenticator.current_user_token(**flags)

    @app.get("/user")
    async def user_route(user: Annotated[User | None, Depends(current_user)]) -> dict[str, str | None]:
        return {"email": None if user is None else user.email}

    @app.get("/user-token")
    async def user_token_route(
        user_token: Annotated[tuple[User | None, str | None], Depends(current_user_token)],
    ) -> dict[str, str | None]:
        user, token = user_token
        return {"email": None if user is None else user.email, "token": token}

    return app


async def get(
    app: FastAPI, path: str = "/user", bearer: str | None = None, cookie: str | None = None
) -> httpx.Response:
    """GET ``path`` with an optional Bearer token and auth cookie."""
    headers = {}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if cookie is not None:
        headers["Cookie"] = f"fastapiusersauth={cookie}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_backends_are_tried_in_order(sqlite_db: SessionMaker) -> None:
    """The first backend with a valid token wins; an invalid token makes the next backend be tried."""
    first = await add_user(sqlite_db, "first@example.com")
    second = await add_user(sqlite_db, "second@example.com")
    header_token = await jwt_strategy().write_token(first)
    cookie_token = await jwt_strategy(OTHER_SECRET).write_token(second)
    get_user_manager = get_user_manager_of(sqlite_db)
    bearer_first = probe_app(Authenticator([bearer_backend(), cookie_backend()], get_user_manager))
    cookie_first = probe_app(Authenticator([cookie_backend(), bearer_backend()], get_user_manager))

    both = await get(bearer_first, bearer=header_token, cookie=cookie_token)
    reversed_order = await get(cookie_first, bearer=header_token, cookie=cookie_token)
    bad_header = await get(bearer_first, bearer="garbage", cookie=cookie_token)
    cookie_token_in_header = await get(bearer_first, bearer=cookie_token)

    assert both.json() == {"email": "first@example.com"}
    assert reversed_order.json() == {"email": "second@example.com"}
    assert bad_header.json() == {"email": "second@example.com"}
    assert cookie_token_in_header.status_code == 401


async def test_get_enabled_backends(sqlite_db: SessionMaker) -> None:
    """Only the backends get_enabled_backends returns are evaluated."""
    user = await add_user(sqlite_db)
    bearer, cookie = bearer_backend(), cookie_backend()
    authenticator = Authenticator([bearer, cookie], get_user_manager_of(sqlite_db))

    async def only_cookie(request: Request) -> Sequence[Backend]:
        return [cookie]

    app = probe_app(authenticator, get_enabled_backends=only_cookie)

    by_header = await get(app, bearer=await jwt_strategy().write_token(user))
    by_cookie = await get(app, cookie=await jwt_strategy(OTHER_SECRET).write_token(user))

    assert by_header.status_code == 401
    assert by_cookie.json() == {"email": "user@example.com"}


@pytest.mark.parametrize(
    ("flags", "user_flags", "expected"),
    [
        ({}, {}, 200),
        ({}, {"is_active": False}, 401),
        ({"active": True}, {"is_active": False}, 401),
        ({"verified": True}, {}, 403),
        ({"verified": True}, {"is_verified": True}, 200),
        ({"superuser": True}, {}, 403),
        ({"superuser": True}, {"is_superuser": True}, 200),
        ({"superuser": True}, {"is_superuser": True, "is_active": False}, 401),
        ({"verified": True, "superuser": True}, {"is_superuser": True}, 403),
    ],
    ids=[
        "default",
        "default-inactive",
        "active-inactive",
        "verified-unverified",
        "verified-verified",
        "superuser-regular",
        "superuser-superuser",
        "superuser-inactive",
        "verified-superuser-unverified",
    ],
)
async def test_flags(
    sqlite_db: SessionMaker, flags: dict[str, bool], user_flags: dict[str, bool], expected: int
) -> None:
    """A deactivated user is always 401 (even with default flags); unmet verified/superuser is 403."""
    user = await add_user(sqlite_db, "user@example.com", **user_flags)
    app = probe_app(Authenticator([bearer_backend()], get_user_manager_of(sqlite_db)), **flags)

    response = await get(app, bearer=await jwt_strategy().write_token(user))

    assert response.status_code == expected
    if expected == 200:
        assert response.json() == {"email": "user@example.com"}
    else:
        assert response.json() == {"detail": {401: "Unauthorized", 403: "Forbidden"}[expected]}


async def test_no_token_is_401(sqlite_db: SessionMaker) -> None:
    """Without a token the dependency answers 401 Unauthorized."""
    app = probe_app(Authenticator([bearer_backend(), cookie_backend()], get_user_manager_of(sqlite_db)))

    response = await get(app)

    assert (response.status_code, response.json()) == (401, {"detail": "Unauthorized"})


@pytest.mark.parametrize(
    ("flags", "user_flags"),
    [({}, None), ({}, {"is_active": False}), ({"verified": True}, {}), ({"superuser": True}, {})],
    ids=["no-token", "inactive", "unverified", "not-superuser"],
)
async def test_optional(sqlite_db: SessionMaker, flags: dict[str, bool], user_flags: dict[str, bool] | None) -> None:
    """optional=True turns every refusal into ``None`` (user and token)."""
    token = None
    if user_flags is not None:
        token = await jwt_strategy().write_token(await add_user(sqlite_db, "user@example.com", **user_flags))
    app = probe_app(Authenticator([bearer_backend()], get_user_manager_of(sqlite_db)), optional=True, **flags)

    user_response = await get(app, bearer=token)
    token_response = await get(app, "/user-token", bearer=token)

    assert (user_response.status_code, user_response.json()) == (200, {"email": None})
    assert token_response.json() == {"email": None, "token": None}


async def test_current_user_token(sqlite_db: SessionMaker) -> None:
    """current_user_token gives the user together with the token that authenticated it."""
    user = await add_user(sqlite_db)
    token = await jwt_strategy(OTHER_SECRET).write_token(user)
    app = probe_app(Authenticator([bearer_backend(), cookie_backend()], get_user_manager_of(sqlite_db)))

    response = await get(app, "/user-token", bearer="garbage", cookie=token)

    assert response.json() == {"email": "user@example.com", "token": token}


def test_openapi_lists_every_scheme(sqlite_db: SessionMaker) -> None:
    """A route protected by current_user documents the security scheme of every backend."""
    app = probe_app(Authenticator([bearer_backend(), cookie_backend()], get_user_manager_of(sqlite_db)))

    operation = app.openapi()["paths"]["/user"]["get"]

    assert operation["security"] == [{"OAuth2PasswordBearer": []}, {"APIKeyCookie": []}]


@pytest.mark.parametrize("names", [("my-jwt", "myjwt"), ("jwt", "jwt"), ("1jwt", "jwt"), ("a b", "ab")])
def test_duplicate_backend_names(names: tuple[str, str]) -> None:
    """Two backend names that reduce to one identifier fail at construction (also through FastAPIUsers)."""
    backends = [bearer_backend(names[0]), bearer_backend(names[1])]

    with pytest.raises(DuplicateBackendNamesError):
        Authenticator(backends, unused_user_manager)
    with pytest.raises(DuplicateBackendNamesError):
        FastAPIUsers[User, uuid.UUID](unused_user_manager, backends)


@pytest.mark.parametrize("name", ["", "123", "--", "_1"])
def test_backend_name_without_letters(name: str) -> None:
    """A backend name with no letter to make an identifier from fails at construction."""
    with pytest.raises(ConfigurationError, match="letter"):
        Authenticator([bearer_backend(name)], unused_user_manager)


def test_name_helpers() -> None:
    """Backend names reduce to identifiers the way FastAPI Users reduces them."""
    assert name_to_variable_name("my-jwt") == "myjwt"
    assert name_to_variable_name("2fa_cookie") == "fa_cookie"
    assert name_to_variable_name("jwt.v2") == "jwtv2"
    assert name_to_strategy_variable_name("my-jwt") == "strategy_myjwt"


# -- strategy factories ------------------------------------------------------------------------


class AsyncCallableFactory:
    """A factory object whose ``__call__`` is a coroutine function."""

    async def __call__(self) -> JWTStrategy[User, uuid.UUID]:
        """Return the strategy."""
        return jwt_strategy()


def _sync_generator_factory() -> Iterator[JWTStrategy[User, uuid.UUID]]:
    yield jwt_strategy()


async def _async_generator_factory() -> AsyncIterator[JWTStrategy[User, uuid.UUID]]:
    yield jwt_strategy()


async def _async_factory() -> JWTStrategy[User, uuid.UUID]:
    return jwt_strategy()


def _factory_with_request(request: Request) -> JWTStrategy[User, uuid.UUID]:
    assert request.url.path == "/user"
    return jwt_strategy()


async def _async_factory_with_dependency(
    secret: Annotated[str, Depends(lambda: SECRET)],
) -> JWTStrategy[User, uuid.UUID]:
    return jwt_strategy(secret)


@pytest.mark.parametrize(
    "factory",
    [
        jwt_strategy,
        AsyncCallableFactory(),
        _sync_generator_factory,
        _async_generator_factory,
        _async_factory,
        _factory_with_request,
        _async_factory_with_dependency,
    ],
    ids=["plain", "async-callable-object", "generator", "async-generator", "async", "request", "dependency"],
)
async def test_strategy_factory_shapes(sqlite_db: SessionMaker, factory: Callable[..., Any]) -> None:
    """Every dependency shape FastAPI accepts works as get_strategy (FastAPI resolves the non-inline ones)."""
    user = await add_user(sqlite_db)
    app = probe_app(Authenticator([bearer_backend(get_strategy=factory)], get_user_manager_of(sqlite_db)))

    response = await get(app, bearer=await jwt_strategy().write_token(user))

    assert response.json() == {"email": "user@example.com"}


async def test_plain_factories_run_on_the_loop(sqlite_db: SessionMaker) -> None:
    """Plain ``def`` factories and classes, with or without parameters, run on the loop's thread, not in the pool.

    One whose annotations cannot be resolved at run time (a name imported for type checkers only)
    is left to FastAPI, which runs it in its thread pool as it always did.
    """
    user = await add_user(sqlite_db)
    threads: dict[str, int] = {}

    def inline_factory() -> JWTStrategy[User, uuid.UUID]:
        threads["no parameter"] = threading.get_ident()
        return jwt_strategy()

    def factory_with_parameters(
        request: Request, secret: Annotated[str, Depends(lambda: SECRET)]
    ) -> JWTStrategy[User, uuid.UUID]:
        assert request.url.path == "/user"
        threads["parameters"] = threading.get_ident()
        return jwt_strategy(secret)

    def unresolvable_factory(request: Request) -> "NotImportedAtRunTime":  # type: ignore[name-defined]  # noqa: F821
        threads["unresolvable"] = threading.get_ident()
        return jwt_strategy()

    class StrategyClass(JWTStrategy[User, uuid.UUID]):
        def __init__(self, request: Request) -> None:
            threads["class"] = threading.get_ident()
            super().__init__(SECRET, 3600)

    token = await jwt_strategy().write_token(user)
    for factory in (inline_factory, factory_with_parameters, unresolvable_factory, StrategyClass):
        app = probe_app(Authenticator([bearer_backend(get_strategy=factory)], get_user_manager_of(sqlite_db)))
        assert (await get(app, bearer=token)).json() == {"email": "user@example.com"}

    loop_thread = threading.get_ident()
    assert threads["no parameter"] == loop_thread
    assert threads["parameters"] == loop_thread
    assert threads["class"] == loop_thread
    assert threads["unresolvable"] != loop_thread


async def test_factory_with_parameters_runs_once_per_request(sqlite_db: SessionMaker) -> None:
    """Two user dependencies of one route share one declaration, so FastAPI's cache calls the factory once."""
    user = await add_user(sqlite_db)
    calls: list[int] = []

    def factory(request: Request) -> JWTStrategy[User, uuid.UUID]:
        calls.append(1)
        return jwt_strategy()

    authenticator = Authenticator([bearer_backend(get_strategy=factory)], get_user_manager_of(sqlite_db))
    current_user = authenticator.current_user()
    current_user_token = authenticator.current_user_token()
    app = FastAPI()

    @app.get("/both")
    async def both(
        user: Annotated[User, Depends(current_user)],
        user_and_token: Annotated[tuple[User, str], Depends(current_user_token)],
    ) -> dict[str, bool]:
        return {"same": user.id == user_and_token[0].id}

    token = await jwt_strategy().write_token(user)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/both", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"same": True}
    assert calls == [1]
