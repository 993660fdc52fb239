"""Shared type aliases."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Generator
from typing import Any, TypeAlias, TypeVar

RETURN_TYPE = TypeVar("RETURN_TYPE")

DependencyCallable: TypeAlias = Callable[
    ...,
    RETURN_TYPE
    | Coroutine[None, None, RETURN_TYPE]
    | AsyncGenerator[RETURN_TYPE, None]
    | Generator[RETURN_TYPE, None, None]
    | AsyncIterator[RETURN_TYPE],
]
"""Anything FastAPI accepts as a dependency that provides a ``RETURN_TYPE``."""

__all__ = ["DependencyCallable"]

_ = Any
