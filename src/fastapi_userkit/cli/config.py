"""How the ``userkit`` command finds the application: :class:`UserkitCLIConfig` and its loader."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, inspect
from sqlalchemy.exc import NoInspectionAvailable
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.fastapi_users import FastAPIUsers
from fastapi_userkit.manager import BaseUserManager, IntegerIDMixin, UUIDIDMixin
from fastapi_userkit.password import PasswordHelperProtocol

__all__ = ["UserManagerFactory", "UserkitCLIConfig", "load_config"]

UserManagerFactory = Callable[[SQLAlchemyUserDatabase[Any, Any]], BaseUserManager[Any, Any]]
"""Builds the application's user manager around a user database: ``lambda db: UserManager(db)``."""


@dataclass(frozen=True)
class UserkitCLIConfig:
    """What the ``userkit`` command needs to know about an application.

    Put one in a module of the application and name it with ``--app module:attribute`` (or the
    ``USERKIT_APP`` environment variable)::

        # myapp/userkit.py
        from fastapi_userkit.cli import UserkitCLIConfig
        from myapp.db import AccessToken, User, engine
        from myapp.users import UserManager

        config = UserkitCLIConfig(
            user_model=User,
            engine=engine,
            access_token_model=AccessToken,
            user_manager_factory=UserManager,
        )

    then ``userkit --app myapp.userkit:config create-user --email admin@example.com --superuser``.
    The attribute may also be a function without arguments that returns the config.

    Attributes:
        user_model: The application's mapped user class (built from the user mixin).
        engine: The application's async engine; give it or ``session_maker``.
        session_maker: The application's async session maker; give it or ``engine``.
        access_token_model: The mapped access-token class, for ``purge-tokens``.
        user_manager_factory: Builds the application's user manager from a user database, so
            the CLI applies the same password policy, hashing and hooks as the application.
            Without it, a plain manager with the default policy and hashing is used.
        password_helper: The password helper of the plain manager (ignored with a factory).
        metadata: The metadata Alembic compares against; the user model's by default.
        fastapi_users: The application's :class:`~fastapi_userkit.FastAPIUsers`, for
            ``check --deploy`` (backends, transports, strategies, security settings).
        app: The application (FastAPI or Starlette), for ``check --deploy`` (its middleware).
        session_strategies: The application's token strategies that keep state outside the
            user's tables (a ``RedisStrategy``, a ``JWTStrategy`` with a revoked-token table), or
            a function that builds them on the CLI's database session: ``deactivate``, ``set-password`` and
            ``delete-user`` end the user's tokens in them. Rows of the access-token and session
            tables mapped beside ``user_model`` end without it.
        session_stores: The refresh-session stores of the application's backends (a Redis
            store, or a SQL store on other tables), ended likewise.

    Raises:
        ConfigurationError: Neither or both of ``engine`` and ``session_maker``, or a
            ``user_model`` that is not a mapped user class.
    """

    user_model: type[Any]
    engine: AsyncEngine | None = None
    session_maker: async_sessionmaker[AsyncSession] | None = None
    access_token_model: type[Any] | None = None
    user_manager_factory: UserManagerFactory | None = None
    password_helper: PasswordHelperProtocol | None = None
    metadata: MetaData | Sequence[MetaData] | None = field(default=None)
    fastapi_users: FastAPIUsers[Any, Any] | None = None
    app: Starlette | None = None
    session_strategies: Callable[[AsyncSession], Sequence[Any]] | Sequence[Any] | None = None
    session_stores: Sequence[Any] = ()

    def __post_init__(self) -> None:
        if self.session_strategies is not None and not (
            callable(self.session_strategies) or isinstance(self.session_strategies, Sequence)
        ):
            raise ConfigurationError(
                "UserkitCLIConfig.session_strategies must be a sequence or a function of a session"
            )
        if (self.engine is None) == (self.session_maker is None):
            raise ConfigurationError("UserkitCLIConfig needs exactly one of engine and session_maker")
        if self.session_maker is not None and not isinstance(self.session_maker.kw.get("bind"), AsyncEngine):
            raise ConfigurationError("UserkitCLIConfig.session_maker must be bound to an AsyncEngine")
        try:
            mapper = inspect(self.user_model)
        except NoInspectionAvailable as exc:
            raise ConfigurationError(f"user_model {self.user_model!r} is not a mapped class") from exc
        missing = {"id", "email", "hashed_password", "is_active"} - set(mapper.columns.keys())
        if missing:
            raise ConfigurationError(f"user_model {self.user_model.__name__} lacks the columns {sorted(missing)}")

    def get_engine(self) -> AsyncEngine:
        """The application's engine (the session maker's, when only that was given)."""
        if self.engine is not None:
            return self.engine
        assert self.session_maker is not None  # noqa: S101 - guaranteed by __post_init__
        bind: AsyncEngine = self.session_maker.kw["bind"]
        return bind

    def get_session_maker(self) -> async_sessionmaker[AsyncSession]:
        """The application's session maker, or one on :meth:`get_engine` that does not expire on commit."""
        if self.session_maker is not None:
            return self.session_maker
        return async_sessionmaker(self.get_engine(), expire_on_commit=False)

    @property
    def target_metadata(self) -> MetaData | Sequence[MetaData]:
        """The metadata Alembic compares the database against."""
        if self.metadata is not None:
            return self.metadata
        table_metadata: MetaData = inspect(self.user_model).local_table.metadata
        return table_metadata

    def make_user_manager(self, user_db: SQLAlchemyUserDatabase[Any, Any]) -> BaseUserManager[Any, Any]:
        """The application's user manager (or a plain one whose id parser fits the id column).

        The manager also ends sessions in :attr:`session_strategies` and :attr:`session_stores`,
        besides those its factory gave it: a command runs outside any request.
        """
        manager = self._build_user_manager(user_db)
        strategies = self.session_strategies
        if callable(strategies):
            strategies = strategies(user_db.session)
        if strategies is not None:
            manager.session_strategies = (*manager.session_strategies, *strategies)
        manager.session_stores = (*manager.session_stores, *self.session_stores)
        return manager

    @property
    def ends_outside_sessions(self) -> bool:
        """Whether commands that end a user's sessions reach stores outside the user's tables."""
        return self.session_strategies is not None or bool(self.session_stores)

    def _build_user_manager(self, user_db: SQLAlchemyUserDatabase[Any, Any]) -> BaseUserManager[Any, Any]:
        if self.user_manager_factory is not None:
            return self.user_manager_factory(user_db)
        id_type = inspect(self.user_model).columns["id"].type
        try:
            python_type: type[Any] | None = id_type.python_type
        except NotImplementedError:  # a custom type without a declared Python type
            python_type = None
        mixin: type[Any] = UUIDIDMixin if python_type is uuid.UUID else IntegerIDMixin
        manager_class = type("UserkitCLIUserManager", (mixin, BaseUserManager), {})
        manager: BaseUserManager[Any, Any] = manager_class(user_db, self.password_helper)
        return manager


def load_config(spec: str) -> UserkitCLIConfig:
    """Import ``module:attribute`` and return the :class:`UserkitCLIConfig` it names.

    Raises:
        ConfigurationError: The spec is malformed, the module or attribute cannot be found,
            or it is not a config (nor a function returning one).
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"--app must look like 'module:attribute', not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"Cannot import module {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigurationError(f"Module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if callable(target) and not isinstance(target, UserkitCLIConfig):
        target = target()
    if not isinstance(target, UserkitCLIConfig):
        raise ConfigurationError(f"{spec} is a {type(target).__name__}, not a UserkitCLIConfig")
    return target
