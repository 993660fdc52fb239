"""Resolves the current user from whichever backend carries a valid token."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic

from fastapi import HTTPException, Request, status

from fastapi_userkit.authentication._context import AuthContext, auth_context, remember_auth
from fastapi_userkit.authentication._dependency import build_dependency
from fastapi_userkit.authentication.assurance import AAL1, AAL2
from fastapi_userkit.authentication.backend import AuthenticationBackend
from fastapi_userkit.authentication.step_up import token_assurance
from fastapi_userkit.authentication.strategy import Strategy
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.manager import BaseUserManager, UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router.common import translate
from fastapi_userkit.security.csrf import is_cookie_transport
from fastapi_userkit.security.settings import SecuritySettings
from fastapi_userkit.types import DependencyCallable

__all__ = [
    "Authenticator",
    "DuplicateBackendNamesError",
    "EnabledBackendsDependency",
    "name_to_strategy_variable_name",
    "name_to_variable_name",
]

EnabledBackendsDependency = DependencyCallable[Sequence[AuthenticationBackend[UP, ID]]]


class DuplicateBackendNamesError(ConfigurationError):
    """Two backends have the same name once reduced to an identifier."""

    default_message = "Two authentication backends share a name."
    code = "DUPLICATE_BACKEND_NAMES"


def name_to_variable_name(name: str) -> str:
    """Reduce a backend name to a Python identifier (``"my-jwt"`` -> ``"myjwt"``)."""
    cleaned = re.sub(r"[^0-9a-zA-Z_]", "", name)
    return re.sub(r"^[^a-zA-Z]+", "", cleaned)


def name_to_strategy_variable_name(name: str) -> str:
    """The parameter name of a backend's strategy."""
    return f"strategy_{name_to_variable_name(name)}"


class Authenticator(Generic[UP, ID]):
    """Builds ``current_user`` dependencies over a list of backends.

    Backends are tried in order; the first valid token wins. A deactivated user never
    authenticates (FastAPI Users' ``current_user()`` accepted them unless ``active=True``): its
    tokens answer 401 on the very next request, whatever the strategy (ASVS 5.0 7.4.2).

    Args:
        backends: The authentication backends.
        get_user_manager: The user-manager dependency.
        security: Its ``csrf`` group sets the CSRF checks of requests authenticated by a cookie
            transport (``None``: the defaults, on).

    The dependencies raise ``HTTPException(403)`` with a ``CSRF_*`` detail when a cookie
    authenticates a cross-site state-changing request (ASVS 5.0 3.5.1-3.5.3).

    ``clock`` (keyword only, new) gives the current time that ``current_user(fresh_within=...)``
    measures a sign-in's age against; tests inject one.

    Raises:
        DuplicateBackendNamesError: Two backend names reduce to the same identifier.
        ConfigurationError: A backend name has no letter to make an identifier from.
    """

    def __init__(
        self,
        backends: Sequence[AuthenticationBackend[UP, ID]],
        get_user_manager: UserManagerDependency[UP, ID],
        *,
        security: SecuritySettings | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.backends = backends
        self.clock = clock
        self.get_user_manager = get_user_manager
        self.csrf = (security if security is not None else SecuritySettings()).csrf_protection()
        self._variable_names = [name_to_variable_name(backend.name) for backend in backends]
        if any(not variable for variable in self._variable_names):
            raise ConfigurationError("Every authentication backend name needs at least one letter.")
        if len(set(self._variable_names)) != len(self._variable_names):
            raise DuplicateBackendNamesError()

    def current_user(
        self,
        optional: bool = False,
        active: bool = False,
        verified: bool = False,
        superuser: bool = False,
        get_enabled_backends: EnabledBackendsDependency[UP, ID] | None = None,
        *,
        aal: int | None = None,
        fresh_within: int | None = None,
    ) -> Callable[..., Awaitable[UP | None]]:
        """Return a dependency that gives the authenticated user.

        Args:
            optional: Give ``None`` instead of an error when nobody is authenticated.
            active: Kept for compatibility; deactivated users never authenticate.
            verified: Require a verified e-mail address (403 otherwise).
            superuser: Require a superuser (403 otherwise).
            get_enabled_backends: A dependency choosing which backends to try.
            aal: Require a sign-in of this assurance level (2: with a second factor; new).
            fresh_within: Require a sign-in (or re-authentication) at most this many seconds
                old (new; ASVS 5.0 7.5.1). A token that does not say when reads as never fresh.

        The dependency raises ``HTTPException(401)`` without a valid token and
        ``HTTPException(403)`` when a requirement is not met, unless ``optional``. A sign-in
        below ``aal`` or older than ``fresh_within`` gets RFC 9470's ``401`` with
        ``WWW-Authenticate: Bearer error="insufficient_user_authentication"`` and
        ``acr_values`` or ``max_age`` (``optional``: ``None``). Without either, nothing changes.

        Raises:
            ConfigurationError: ``aal`` is not 1 or 2, or ``fresh_within`` is not positive.
        """
        resolve = self._resolver(
            optional=optional, verified=verified, superuser=superuser, aal=aal, fresh_within=fresh_within
        )

        async def user_only(request: Any, user_manager: Any, tokens: Any, strategies: Any, enabled: Any) -> UP | None:
            user, _ = await resolve(request, user_manager, tokens, strategies, enabled)
            return user

        return build_dependency(
            self.backends, self._variable_names, self.get_user_manager, get_enabled_backends, user_only
        )

    def current_user_token(
        self,
        optional: bool = False,
        active: bool = False,
        verified: bool = False,
        superuser: bool = False,
        get_enabled_backends: EnabledBackendsDependency[UP, ID] | None = None,
        *,
        aal: int | None = None,
        fresh_within: int | None = None,
    ) -> Callable[..., Awaitable[tuple[UP | None, str | None]]]:
        """Like :meth:`current_user`, but the dependency gives ``(user, token)``.

        Raises:
            ConfigurationError: ``aal`` is not 1 or 2, or ``fresh_within`` is not positive.
        """
        resolve = self._resolver(
            optional=optional, verified=verified, superuser=superuser, aal=aal, fresh_within=fresh_within
        )
        return build_dependency(
            self.backends, self._variable_names, self.get_user_manager, get_enabled_backends, resolve
        )

    def _resolver(
        self, *, optional: bool, verified: bool, superuser: bool, aal: int | None, fresh_within: int | None
    ) -> Callable[..., Awaitable[tuple[UP | None, str | None]]]:
        if aal is not None and aal not in (AAL1, AAL2):
            raise ConfigurationError("current_user(aal=...) is 1 or 2.")
        if fresh_within is not None and fresh_within <= 0:
            raise ConfigurationError("current_user(fresh_within=...) is a positive number of seconds.")
        step_up = aal is not None or fresh_within is not None

        async def resolve(
            request: Request,
            user_manager: BaseUserManager[UP, ID],
            tokens: dict[str, str | None],
            strategies: dict[str, Strategy[UP, ID]],
            enabled_backends: Sequence[AuthenticationBackend[UP, ID]] | None,
        ) -> tuple[UP | None, str | None]:
            user, token = await self._find_user(request, user_manager, tokens, strategies, enabled_backends)
            status_code = status.HTTP_401_UNAUTHORIZED
            if user is not None:
                status_code = status.HTTP_403_FORBIDDEN
                if not user.is_active:
                    status_code = status.HTTP_401_UNAUTHORIZED
                    user = None
                elif (verified and not user.is_verified) or (superuser and not user.is_superuser):
                    user = None
            if user is None:
                if optional:
                    return None, None
                raise HTTPException(status_code=status_code)
            if step_up and not self._assured(request, aal, fresh_within, optional):
                return None, None
            return user, token

        return resolve

    def _assured(self, request: Request, aal: int | None, fresh_within: int | None, optional: bool) -> bool:
        """Whether the request's sign-in meets ``aal`` and ``fresh_within`` (issue 18, RFC 9470).

        Raises:
            HTTPException: ``401`` with the RFC 9470 challenge, unless ``optional``.
        """
        context = auth_context(request)
        assert context is not None  # noqa: S101 - _find_user records it with every user it finds
        refusal = token_assurance(context.strategy, context.token).shortfall(aal, fresh_within, self.clock())
        if refusal is None:
            return True
        if optional:
            return False
        # Imported here: the routers' package imports this module through its auth router.
        from fastapi_userkit.router.common import translate

        with translate("step-up"):
            raise refusal

    async def _find_user(
        self,
        request: Request,
        user_manager: BaseUserManager[UP, ID],
        tokens: dict[str, str | None],
        strategies: dict[str, Strategy[UP, ID]],
        enabled_backends: Sequence[AuthenticationBackend[UP, ID]] | None,
    ) -> tuple[UP | None, str | None]:
        enabled = self.backends if enabled_backends is None else enabled_backends
        for backend in self.backends:
            token = tokens[backend.name]
            if token is None or backend not in enabled:
                continue
            strategy = strategies[backend.name]
            user = await strategy.read_token(token, user_manager)
            # A token another backend issued, or bound to an ended session, is dead here (issues 7, 16).
            if user is not None and not await backend.accepts(strategy, token, user):
                user = None
            if user is not None:
                if self.csrf is not None and is_cookie_transport(backend.transport):
                    # The app's own routes use this dependency too: answer through the table here.
                    with translate("csrf-origin", "csrf-token"):
                        self.csrf.check_request(request, backend.transport)
                remember_auth(request, AuthContext(backend, strategy, token))
                return user, token
        return None, None
