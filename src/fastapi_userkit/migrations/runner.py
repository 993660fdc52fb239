"""The body of an Alembic ``env.py`` for an application that uses fastapi-userkit.

``userkit db init`` writes an ``env.py`` of three lines that calls :func:`run_migrations`. It
finds the application through the :class:`~fastapi_userkit.cli.UserkitCLIConfig` that the
``userkit`` command hands over in-process, or else through the ``userkit_app`` option of
``alembic.ini`` (``module:attribute``), so plain ``alembic upgrade head`` works too.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.migrations.alembic_helpers import (
    IncludeObject,
    compare_type,
    include_object_for,
    process_revision_directives,
    render_item,
)

if TYPE_CHECKING:
    from fastapi_userkit.cli.config import UserkitCLIConfig

__all__ = ["CONFIG_ATTRIBUTE", "INI_OPTION", "configure_options", "run_migrations"]

CONFIG_ATTRIBUTE = "userkit_config"
"""Key of ``alembic.config.Config.attributes`` under which the CLI passes its config object."""

INI_OPTION = "userkit_app"
"""Option of ``alembic.ini``'s main section naming the application (``module:attribute``)."""

# SQLite cannot reflect expression indexes, so neither SQLAlchemy nor Alembic can compare the
# lower(email) unique index there; both warn on every autogenerate. The index is still created
# by the migration that creates the table; on SQLite it is simply never diffed afterwards.
_EXPECTED_SQLITE_WARNINGS = (
    r"Skipped unsupported reflection of expression-based index",
    r"autogenerate skipping metadata-specified expression-based index",
)


def configure_options(
    dialect: Any, target_metadata: MetaData | Sequence[MetaData], include_object: IncludeObject | None = None
) -> dict[str, Any]:
    """The ``context.configure`` keyword arguments that wire in the library's autogenerate hooks.

    For an ``env.py`` written by hand: ``context.configure(connection=c, **configure_options(c.dialect, md))``.
    """
    return {
        "target_metadata": target_metadata,
        "render_item": render_item,
        "compare_type": compare_type,
        "include_object": include_object_for(dialect, include_object),
        "process_revision_directives": process_revision_directives,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": dialect.name == "sqlite",
    }


def _resolve_config(alembic_config: Any) -> UserkitCLIConfig:
    from fastapi_userkit.cli.config import load_config

    config = alembic_config.attributes.get(CONFIG_ATTRIBUTE)
    if config is not None:
        return config  # type: ignore[no-any-return]  # attributes is an untyped dict
    spec = alembic_config.get_main_option(INI_OPTION)
    if not spec:
        raise ConfigurationError(
            f"Set '{INI_OPTION} = module:attribute' in alembic.ini, or run migrations through 'userkit db'"
        )
    return load_config(spec)


def run_migrations(context: Any, *, include_object: IncludeObject | None = None) -> None:
    """Run Alembic's online or offline migrations for the application's metadata.

    Args:
        context: The ``alembic.context`` module, as imported by ``env.py``.
        include_object: The application's own object filter, if any.

    Raises:
        ConfigurationError: The application cannot be found.
    """
    config = _resolve_config(context.config)
    metadata = config.target_metadata
    engine = config.get_engine()

    if context.is_offline_mode():
        context.configure(
            url=engine.url.render_as_string(hide_password=False),
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **configure_options(engine.dialect, metadata, include_object),
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def run_on(connection: Connection) -> None:
        context.configure(connection=connection, **configure_options(connection.dialect, metadata, include_object))
        with warnings.catch_warnings():
            if connection.dialect.name == "sqlite":
                for message in _EXPECTED_SQLITE_WARNINGS:
                    warnings.filterwarnings("ignore", message=message)
            with context.begin_transaction():
                context.run_migrations()

    async def run_online() -> None:
        # A private engine: the application's may be bound to another event loop or pool.
        migration_engine = create_async_engine(engine.url, poolclass=NullPool)
        try:
            async with migration_engine.connect() as connection:
                await connection.run_sync(run_on)
                await connection.commit()
        finally:
            await migration_engine.dispose()

    asyncio.run(run_online())
