"""The state shared by every command: which application, and how to run async work."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import typer

from fastapi_userkit.cli._errors import EXIT_ERROR, CLIError, describe, fail
from fastapi_userkit.cli.config import UserkitCLIConfig, load_config
from fastapi_userkit.exceptions import ConfigurationError

__all__ = ["CLIState", "get_state", "guard", "run_async"]

T = TypeVar("T")


@dataclass
class CLIState:
    """``--app`` and ``--traceback``, and the config loaded from ``--app`` on first use."""

    app_spec: str | None = None
    traceback: bool = False
    _config: UserkitCLIConfig | None = field(default=None, repr=False)

    def config(self) -> UserkitCLIConfig:
        """Load the application's config.

        Raises:
            CLIError: No ``--app``/``USERKIT_APP``, or it cannot be loaded.
        """
        if self._config is None:
            if not self.app_spec:
                raise CLIError("Name the application with --app module:attribute or USERKIT_APP")
            # Like uvicorn and alembic: the application's package is found from the current folder.
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            try:
                self._config = load_config(self.app_spec)
            except ConfigurationError as exc:
                raise CLIError(exc.message) from exc
        return self._config


def get_state(ctx: typer.Context) -> CLIState:
    """The :class:`CLIState` of this invocation."""
    state = ctx.find_root().obj
    if not isinstance(state, CLIState):  # pragma: no cover - the root callback always sets it
        state = CLIState()
        ctx.find_root().obj = state
    return state


def guard(state: CLIState, action: Callable[[], T]) -> T:
    """Run ``action``; report an expected failure as one line and a non-zero exit code.

    An unexpected exception is a bug: it is reported in one line too, unless ``--traceback``.
    """
    try:
        return action()
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        error = describe(exc)
        if error is not None:
            fail(error)
        if state.traceback:
            raise
        fail(CLIError(f"Unexpected {type(exc).__name__}: {exc} (run with --traceback for details)", EXIT_ERROR))


def run_async(state: CLIState, work: Callable[[UserkitCLIConfig], Awaitable[T]]) -> T:
    """Run ``work`` on the application's config in a fresh event loop, then close the engine's connections."""

    async def run() -> T:
        config = state.config()
        try:
            return await work(config)
        finally:
            # Pooled connections belong to this event loop; a later command runs in another.
            await config.get_engine().dispose()

    return guard(state, lambda: asyncio.run(run()))
