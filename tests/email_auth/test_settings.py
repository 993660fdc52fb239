"""EmailSignInSettings and EmailChangeSettings: defaults, and misconfiguration refused at construction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fastapi_userkit.email_auth import (
    EMAIL_CHANGE_CONFIRM_PATH,
    EMAIL_CHANGE_REVERT_PATH,
    EMAIL_SIGN_IN_PATH,
    EmailChangeSettings,
    EmailSignInSettings,
)
from fastapi_userkit.exceptions import ConfigurationError

KEY = "k" * 32
URL = "https://camelot.bt/email-login?token={token}"


def test_sign_in_is_off_by_default_with_safe_limits() -> None:
    """Off, no sign-up, 6-symbol codes, 10 minutes, 5 attempts; the secret is not in the repr."""
    settings = EmailSignInSettings(secret=KEY, link_url=URL)

    assert (settings.enabled, settings.allow_sign_up) == (False, False)
    assert (settings.code_length, settings.lifetime, settings.max_attempts) == (6, timedelta(minutes=10), 5)
    assert KEY not in repr(settings)


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_length": 5},
        {"code_length": 9},
        {"lifetime": timedelta(minutes=11)},
        {"lifetime": timedelta(0)},
        {"max_attempts": 0},
        {"max_attempts": 6},
        {"secret": "short"},
        {"link_url": "/email-login?token={token}"},
        {"link_url": "https://camelot.bt/email-login"},
        {"link_url": "https://camelot.bt/{token}/{other}"},
    ],
)
def test_sign_in_misconfiguration_fails_at_construction(overrides: dict[str, Any]) -> None:
    """Codes outside 6..8, lifetimes over 10 minutes, attempts outside 1..5, short secrets and bad URLs are refused."""
    with pytest.raises(ConfigurationError):
        EmailSignInSettings(**{"secret": KEY, "link_url": URL, **overrides})


def test_change_defaults() -> None:
    """The confirmation lives an hour, the revert link seven days."""
    settings = EmailChangeSettings(secret=KEY, confirm_url=URL, revert_url=URL)

    assert (settings.confirm_lifetime, settings.revert_lifetime) == (timedelta(hours=1), timedelta(days=7))
    assert KEY not in repr(settings)


@pytest.mark.parametrize(
    "overrides",
    [
        {"confirm_lifetime": timedelta(0)},
        {"revert_lifetime": timedelta(minutes=30)},
        {"confirm_url": "ftp://camelot.bt/{token}"},
        {"revert_url": "https://camelot.bt/"},
        {"secret": ["k" * 31]},
    ],
)
def test_change_misconfiguration_fails_at_construction(overrides: dict[str, Any]) -> None:
    """A non-positive confirmation, a revert window shorter than it, bad URLs and short secrets are refused."""
    with pytest.raises(ConfigurationError):
        EmailChangeSettings(**{"secret": KEY, "confirm_url": URL, "revert_url": URL, **overrides})


def test_the_links_default_to_the_account_pages() -> None:
    """Without explicit URLs, the links open the account pages' routes below ``pages_url``; given ones win."""
    sign_in = EmailSignInSettings(secret=KEY, pages_url="https://camelot.bt/account/")
    change = EmailChangeSettings(secret=KEY, pages_url="https://camelot.bt/account", revert_url=URL)

    assert sign_in.link_url == f"https://camelot.bt/account{EMAIL_SIGN_IN_PATH}?token={{token}}"
    assert change.confirm_url == f"https://camelot.bt/account{EMAIL_CHANGE_CONFIRM_PATH}?token={{token}}"
    assert change.revert_url == URL
    assert EMAIL_CHANGE_REVERT_PATH == "/email/revert"


@pytest.mark.parametrize("pages_url", [None, "https://camelot.bt/{token}", "camelot.bt/account"])
def test_a_missing_or_bad_pages_url_is_refused(pages_url: str | None) -> None:
    """No URL and no pages_url, braces in pages_url, or a relative pages_url fail at construction."""
    with pytest.raises(ConfigurationError):
        EmailSignInSettings(secret=KEY, pages_url=pages_url)
    with pytest.raises(ConfigurationError):
        EmailChangeSettings(secret=KEY, pages_url=pages_url)
