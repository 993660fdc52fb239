"""Assurance: its levels, freshness, and the RFC 9470 refusal a request that falls short earns (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fastapi_userkit.authentication.assurance import (
    UNKNOWN_ASSURANCE,
    Assurance,
    InsufficientUserAuthentication,
    acr_value,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def test_now_takes_the_clock_in_whole_seconds() -> None:
    """``Assurance.now`` is the given level at the clock's time, in whole seconds since the epoch."""
    assurance = Assurance.now(2, clock=lambda: NOW.replace(microsecond=900_000))

    assert assurance == Assurance(2, T)


@pytest.mark.parametrize(("aal", "auth_time"), [(0, None), (3, 1), (1, -1)])
def test_levels_are_one_or_two_and_times_not_negative(aal: int, auth_time: int | None) -> None:
    """Anything but level 1 or 2, or a negative time, is refused at construction."""
    with pytest.raises(ValueError, match=r"assurance level|epoch"):
        Assurance(aal, auth_time)


def test_freshness_counts_from_auth_time_and_unknown_is_never_fresh() -> None:
    """A sign-in is fresh for ``max_age`` seconds inclusive; one at an unknown time never is."""
    assert Assurance(1, T - 300).is_fresh(300, NOW)
    assert not Assurance(1, T - 301).is_fresh(300, NOW)
    assert not UNKNOWN_ASSURANCE.is_fresh(10**9, NOW)


def test_shortfall_names_what_is_missing() -> None:
    """Only the requirements the assurance misses are named in the refusal."""
    fresh_aal1 = Assurance(1, T)

    assert fresh_aal1.shortfall(None, None, NOW) is None
    assert fresh_aal1.shortfall(1, 60, NOW) is None
    low = fresh_aal1.shortfall(2, 60, NOW)
    stale = Assurance(2, T - 61).shortfall(2, 60, NOW)
    both = UNKNOWN_ASSURANCE.shortfall(2, 60, NOW)

    assert low is not None
    assert (low.aal, low.max_age) == (2, None)
    assert stale is not None
    assert (stale.aal, stale.max_age) == (None, 60)
    assert both is not None
    assert (both.aal, both.max_age) == (2, 60)


def test_the_refusal_is_rfc_9470s_challenge() -> None:
    """The header is a Bearer challenge with ``insufficient_user_authentication`` and the level or age."""
    low = InsufficientUserAuthentication(aal=2)
    stale = InsufficientUserAuthentication(max_age=300)
    both = InsufficientUserAuthentication(aal=2, max_age=300)

    assert low.www_authenticate() == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A second factor is required: authenticate again with it.", acr_values="aal2"'
    )
    assert stale.www_authenticate() == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="The sign-in is not recent enough: authenticate again.", max_age="300"'
    )
    assert both.www_authenticate().endswith('acr_values="aal2", max_age="300"')
    assert low.code == "INSUFFICIENT_USER_AUTHENTICATION"
    assert acr_value(1) == "aal1"
