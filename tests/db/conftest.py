"""Fixtures of the storage tests: the fast-path switch set for one test, whatever the run's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fastapi_userkit.db import fast_paths_enabled, set_fast_paths


def _switched(enabled: bool) -> Iterator[None]:
    before = fast_paths_enabled()
    set_fast_paths(enabled)
    try:
        yield
    finally:
        set_fast_paths(before)


@pytest.fixture
def fast_paths_on() -> Iterator[None]:
    """The fast paths on for this test (a ``USERKIT_FAST_PATHS=0`` run turns them off)."""
    yield from _switched(True)


@pytest.fixture
def fast_paths_off() -> Iterator[None]:
    """The fast paths off for this test: public APIs only."""
    yield from _switched(False)
