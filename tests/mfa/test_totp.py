"""TOTP helpers: secrets, URI, QR code, code normalisation and matching within the window."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastapi_userkit.mfa import totp
from tests.mfa.conftest import START, code_at

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_new_secret_has_160_bits_and_is_base32() -> None:
    """A new secret decodes to 20 random bytes, and two secrets differ."""
    first, second = totp.new_secret(), totp.new_secret()

    assert len(base64.b32decode(first)) == 20
    assert first != second


def test_provisioning_uri_names_issuer_account_and_secret() -> None:
    """The otpauth URI carries the secret, the issuer (label and parameter) and the account name."""
    uri = totp.provisioning_uri(SECRET, account_name="arthur@camelot.bt", issuer="Camelot")

    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/Camelot:arthur%40camelot.bt"
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["Camelot"]


def test_qr_svg_is_an_inline_svg_element() -> None:
    """The QR code is an <svg> element with no XML declaration and no external reference."""
    svg = totp.qr_svg(totp.provisioning_uri(SECRET, account_name="a", issuer="Camelot"))

    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_time_step_counts_30_second_steps_and_refuses_naive_times() -> None:
    """The step is the Unix time over 30; a naive datetime is refused."""
    assert totp.time_step(START) == int(START.timestamp()) // 30
    assert totp.time_step(START + timedelta(seconds=29)) == totp.time_step(START)
    assert totp.time_step(START + timedelta(seconds=30)) == totp.time_step(START) + 1
    with pytest.raises(ValueError, match="timezone-aware"):
        totp.time_step(datetime(2026, 1, 1))  # noqa: DTZ001 - the naive value is the point


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("123456", "123456"),
        (" 123 456 ", "123456"),
        ("12345", None),
        ("1234567", None),
        ("12345a", None),
        ("١٢٣٤٥٦", None),
    ],
)
def test_normalise_code(typed: str, expected: str | None) -> None:
    """Six ASCII digits, spaces ignored, are a code; anything else is not."""
    assert totp.normalise_code(typed) == expected


@given(st.text())
def test_any_text_normalises_to_six_ascii_digits_or_none(text: str) -> None:
    """Whatever is typed, normalise_code returns None or six ASCII digits, and never raises."""
    result = totp.normalise_code(text)

    assert result is None or (len(result) == 6 and result.isascii() and result.isdigit())


@given(st.text(alphabet="0123456789", min_size=6, max_size=6), st.text(alphabet=" \t", max_size=3))
def test_spaces_around_and_inside_a_code_do_not_matter(code: str, padding: str) -> None:
    """A code typed with spaces (as apps display it, "123 456") normalises to its six digits."""
    assert totp.normalise_code(f"{padding}{code[:3]}{padding}{code[3:]}{padding}") == code


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_codes_of_the_window_match_their_step(offset: int) -> None:
    """The codes of the previous, current and next step match, and the matched step is returned."""
    code = code_at(SECRET, START + timedelta(seconds=30 * offset))

    steps = totp.matching_steps(SECRET, code, now=START)

    assert steps == [totp.time_step(START) + offset]


@pytest.mark.parametrize("offset", [-2, 2, 10])
def test_codes_outside_the_window_do_not_match(offset: int) -> None:
    """A code two or more steps away from now matches nothing."""
    code = code_at(SECRET, START + timedelta(seconds=30 * offset))

    assert totp.matching_steps(SECRET, code, now=START) == []


def test_window_zero_accepts_only_the_current_step() -> None:
    """With window 0, the previous step's code no longer matches."""
    previous = code_at(SECRET, START - timedelta(seconds=30))

    assert totp.matching_steps(SECRET, previous, now=START, window=0) == []
    assert totp.matching_steps(SECRET, code_at(SECRET, START), now=START, window=0) == [totp.time_step(START)]


@pytest.mark.parametrize("code", ["", "abcdef", "12345", "1234567"])
def test_malformed_codes_match_nothing(code: str) -> None:
    """Input that cannot be a code matches no step (and raises nothing)."""
    assert totp.matching_steps(SECRET, code, now=START) == []


def test_the_code_of_another_secret_does_not_match() -> None:
    """The current code of another secret is refused."""
    other = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

    assert totp.matching_steps(SECRET, code_at(other, START), now=START) == []
