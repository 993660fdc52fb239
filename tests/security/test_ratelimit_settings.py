"""Rate-limit settings, the delay schedule and client-address resolution (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.security import Limit, LoginThrottle, SecuritySettings, client_ip
from fastapi_userkit.security.ratelimit import rate_limit_bucket
from fastapi_userkit.security.ratelimit.limiter import account_key


def request_from(peer: str | None, forwarded: list[str] | None = None) -> Request:
    """A bare ASGI request from ``peer`` with ``X-Forwarded-For`` headers."""
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded or []]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": headers,
        "client": None if peer is None else (peer, 1234),
    }
    return Request(scope)


def test_default_schedule() -> None:
    """Defaults: 4 failures free, then 30 s doubling, then 900 s from the 10th failure on."""
    throttle = LoginThrottle()

    delays = [throttle.delay_after(failures) for failures in range(1, 13)]

    assert delays == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]


@given(st.integers(min_value=0, max_value=10**6))
def test_delay_never_exceeds_the_cap(failures: int) -> None:
    """Whatever the count, the wait stays within [0, max_delay_seconds] (no lock for good, T18)."""
    throttle = LoginThrottle(free_failures=1, first_delay_seconds=1, max_delay_seconds=3600, lockout_failures=100)

    assert 0 <= throttle.delay_after(failures) <= 3600


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_failures": 0},
        {"window_seconds": 0},
        {"first_delay_seconds": 0},
        {"first_delay_seconds": 1000, "max_delay_seconds": 10},
        {"lockout_failures": 101},
        {"free_failures": 6, "lockout_failures": 5},
    ],
)
def test_bad_throttles_fail_at_construction(kwargs: dict[str, float]) -> None:
    """Out-of-range throttles (including a cap above NIST's 100 failures) raise ConfigurationError."""
    with pytest.raises(ConfigurationError):
        LoginThrottle(**kwargs)  # type: ignore[arg-type]  # numbers typed loosely for the table


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (5, 0), (-1, 60)])
def test_bad_limits_fail_at_construction(limit: int, window: float) -> None:
    """A limit needs a positive count and window."""
    with pytest.raises(ConfigurationError):
        Limit(limit, window)


def test_negative_proxy_count_fails_at_construction() -> None:
    """``trusted_proxy_count`` cannot be negative."""
    with pytest.raises(ConfigurationError):
        SecuritySettings(trusted_proxy_count=-1)


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    """By default the peer address counts, whatever X-Forwarded-For says."""
    request = request_from("192.0.2.1", ["203.0.113.9"])

    assert client_ip(request) == "192.0.2.1"


@pytest.mark.parametrize(
    ("forwarded", "trusted", "expected"),
    [
        (["203.0.113.9"], 1, "203.0.113.9"),
        (["198.51.100.1, 203.0.113.9"], 1, "203.0.113.9"),
        (["198.51.100.1, 203.0.113.9"], 2, "198.51.100.1"),
        (["198.51.100.1", "203.0.113.9"], 2, "198.51.100.1"),
        (["203.0.113.9"], 2, "192.0.2.1"),
        (["not-an-ip"], 1, "192.0.2.1"),
        (["2001:DB8::1"], 1, "2001:db8::1"),
    ],
)
def test_forwarded_for_with_trusted_proxies(forwarded: list[str], trusted: int, expected: str) -> None:
    """With n trusted proxies the client is the n-th address from the right; junk or short lists fall back."""
    request = request_from("192.0.2.1", forwarded)

    assert SecuritySettings(trusted_proxy_count=trusted).client_ip(request) == expected


def test_missing_peer_is_unknown() -> None:
    """A server that reports no peer gives ``"unknown"``."""
    assert client_ip(request_from(None)) == "unknown"


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("unknown", "unknown"),
    ],
)
def test_rate_limit_buckets(address: str, bucket: str) -> None:
    """IPv4 addresses count alone, IPv6 ones by /64 (one subscriber), mapped IPv4 as IPv4."""
    assert rate_limit_bucket(address) == bucket


def test_account_keys_hide_the_address_and_ignore_case() -> None:
    """Account keys are the same for any case of the e-mail and do not contain it."""
    key = account_key("login", " Arthur@Camelot.bt ")

    assert key == account_key("login", "arthur@camelot.bt")
    assert "arthur" not in key
