"""An application that enables the plugin but forgets to hand it the app gets a usage error saying how."""

from __future__ import annotations

import pytest

pytest_plugins = ["fastapi_userkit.testing"]


def test_userkit_app_must_be_overridden(request: pytest.FixtureRequest) -> None:
    """The plugin's own userkit_app fixture fails with the override to write."""
    with pytest.raises(pytest.UsageError, match=r"override the 'userkit_app' fixture in your conftest\.py"):
        request.getfixturevalue("userkit_app")
