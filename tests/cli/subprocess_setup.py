"""Creates the test app's tables for the subprocess tests (run with ``python -c``)."""

from __future__ import annotations

import os

from sqlalchemy.ext.asyncio import create_async_engine

from tests.cli.cliapp import URL_VARIABLE
from tests.models import Base


async def create_tables() -> None:
    """Create every table of the test app in the database named by the environment."""
    engine = create_async_engine(os.environ[URL_VARIABLE])
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
