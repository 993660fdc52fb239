"""What the plugin needs from the application, and how it reaches the app's own dependencies."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

import httpx
from fastapi import FastAPI
from fastapi.dependencies.utils import get_typed_signature
from fastapi.params import Depends as DependsParam
from sqlalchemy.ext.asyncio import AsyncEngine

from fastapi_userkit.fastapi_users import FastAPIUsers
from fastapi_userkit.mail import AccountMailer
from fastapi_userkit.security.settings import CSRFSettings

__all__ = ["UserkitTestApp", "resolve_dependency"]

BASE_URL = "https://testserver"
"""HTTPS, so that ``Secure`` and ``__Host-`` cookies travel as they do in production."""

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class UserkitTestApp:
    """The application under test, handed to the plugin by overriding the ``userkit_app`` fixture.

    Attributes:
        app: The FastAPI application.
        fastapi_users: Its :class:`~fastapi_userkit.FastAPIUsers`: backends, user-manager
            dependency and security settings come from it.
        account_mailer: The :class:`~fastapi_userkit.mail.AccountMailer` the user manager sends
            with; the ``outbox`` fixture captures what it sends.
        engine: The application's engine, where the SQL rate-limit counters live (unless the
            ``SQLRateLimitBackend`` names its own engine).
        user_create: The schema ``make_user`` fills (the app's ``UserCreate``, for extra fields).
    """

    app: FastAPI
    fastapi_users: FastAPIUsers[Any, Any]
    account_mailer: AccountMailer | None = None
    engine: AsyncEngine | None = None
    user_create: type[Any] | None = None

    def backend(self, name: str | None) -> Any:
        """The authentication backend named ``name`` (the first one by default).

        Raises:
            LookupError: No backend has that name.
        """
        backends = self.fastapi_users.authenticator.backends
        for backend in backends:
            if name is None or backend.name == name:
                return backend
        raise LookupError(f"No backend named {name!r}; the app has {[b.name for b in backends]}")

    @property
    def csrf(self) -> CSRFSettings | None:
        """The app's CSRF settings (``None``: off)."""
        return self.fastapi_users.security.csrf

    def client(self) -> httpx.AsyncClient:
        """A client on the app that sends what a same-origin browser page sends (see :func:`_browser_headers`)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=BASE_URL,
            event_hooks={"request": [self._browser_headers]},
        )

    async def _browser_headers(self, request: httpx.Request) -> None:
        """Add what a browser adds to a same-origin request that changes state.

        ``Origin`` and ``Sec-Fetch-Site`` on every unsafe method (the origin check of
        :mod:`fastapi_userkit.security.csrf`), and in token mode the CSRF cookie's value in the
        token header, as the page's JavaScript would copy it.
        """
        if request.method not in _UNSAFE:
            return
        request.headers.setdefault("Origin", BASE_URL)
        request.headers.setdefault("Sec-Fetch-Site", "same-origin")
        csrf = self.csrf
        if csrf is None or csrf.mode != "token":
            return
        header = request.headers.get("cookie", "")
        names = [csrf.token_cookie_name] if csrf.token_cookie_name else ["__Host-userkit-csrf", "userkit-csrf"]
        for pair in header.split(";"):
            name, _, value = pair.strip().partition("=")
            if name in names:
                request.headers.setdefault(csrf.token_header, value)


def _dependency_of(parameter: inspect.Parameter) -> Callable[..., Any] | None:
    if isinstance(parameter.default, DependsParam):
        return parameter.default.dependency
    hint = parameter.annotation
    if get_origin(hint) is Annotated:
        for extra in get_args(hint)[1:]:
            if isinstance(extra, DependsParam):
                return extra.dependency
    return None


async def resolve_dependency(app: FastAPI, dependency: Callable[..., Any], stack: AsyncExitStack) -> Any:
    """Call a FastAPI dependency outside a request, as FastAPI would: sub-dependencies first.

    Honours ``app.dependency_overrides``; generator dependencies are entered on ``stack`` and
    finished when it closes. Only ``Depends`` parameters are supported: a dependency that needs
    the request cannot be called outside one.

    Raises:
        TypeError: A parameter that is neither a ``Depends`` nor has a default.
    """
    dependency = app.dependency_overrides.get(dependency, dependency)
    arguments: dict[str, Any] = {}
    # FastAPI's own reading of the signature (string annotations evaluated as it evaluates them).
    for parameter in get_typed_signature(dependency).parameters.values():
        sub = _dependency_of(parameter)
        if sub is not None:
            arguments[parameter.name] = await resolve_dependency(app, sub, stack)
        elif parameter.default is inspect.Parameter.empty:
            raise TypeError(f"{dependency.__name__} needs {parameter.name!r}, which only a request gives")
    if inspect.isasyncgenfunction(dependency):
        generator = dependency(**arguments)
        value = await generator.__anext__()
        stack.push_async_callback(_finish, generator)
        return value
    result = dependency(**arguments)
    return await result if inspect.isawaitable(result) else result


async def _finish(generator: Any) -> None:
    async for _ in generator:  # pragma: no cover - a dependency yields once
        pass
