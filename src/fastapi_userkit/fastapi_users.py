"""The composition root: wires the manager dependency and backends into routers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic

from fastapi import APIRouter

from fastapi_userkit import schemas
from fastapi_userkit.authentication import AuthenticationBackend, Authenticator
from fastapi_userkit.manager import UserManagerDependency
from fastapi_userkit.models import ID, UP
from fastapi_userkit.router import (
    get_auth_router,
    get_register_router,
    get_reset_password_router,
    get_users_router,
    get_verify_router,
)

__all__ = ["FastAPIUsers"]


class FastAPIUsers(Generic[UP, ID]):
    """Main object: builds the routers and the ``current_user`` dependency.

    Args:
        get_user_manager: Dependency yielding the app's user manager.
        auth_backends: The authentication backends, tried in order.

    Raises:
        DuplicateBackendNamesError: Two backends share a name.

    Example::

        fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])
        app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
        current_active_user = fastapi_users.current_user(active=True)
    """

    def __init__(
        self,
        get_user_manager: UserManagerDependency[UP, ID],
        auth_backends: Sequence[AuthenticationBackend[UP, ID]],
    ) -> None:
        self.authenticator = Authenticator(auth_backends, get_user_manager)
        self.get_user_manager = get_user_manager
        self.current_user = self.authenticator.current_user

    def get_register_router(self, user_schema: type[schemas.U], user_create_schema: type[schemas.UC]) -> APIRouter:
        """Return the router with ``POST /register``."""
        return get_register_router(self.get_user_manager, user_schema, user_create_schema)

    def get_verify_router(self, user_schema: type[schemas.U]) -> APIRouter:
        """Return the router with ``POST /request-verify-token`` and ``POST /verify``."""
        return get_verify_router(self.get_user_manager, user_schema)

    def get_reset_password_router(self) -> APIRouter:
        """Return the router with ``POST /forgot-password`` and ``POST /reset-password``."""
        return get_reset_password_router(self.get_user_manager)

    def get_auth_router(self, backend: AuthenticationBackend[UP, ID], requires_verification: bool = False) -> APIRouter:
        """Return the router with ``POST /login`` and ``POST /logout`` for ``backend``."""
        return get_auth_router(backend, self.get_user_manager, self.authenticator, requires_verification)

    def get_users_router(
        self,
        user_schema: type[schemas.U],
        user_update_schema: type[schemas.UU],
        requires_verification: bool = False,
    ) -> APIRouter:
        """Return the router with ``/me`` and ``/{id}``."""
        return get_users_router(
            self.get_user_manager, user_schema, user_update_schema, self.authenticator, requires_verification
        )
