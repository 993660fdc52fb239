"""Recovery codes: generation from the CSPRNG and normalisation of what a person types."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastapi_userkit.mfa.recovery import ALPHABET, CODE_LENGTH, generate_codes, normalise_recovery_code

DISPLAY = re.compile(r"^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$")
canonical_codes = st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH)


def test_ten_distinct_codes_by_default_in_display_form() -> None:
    """generate_codes() gives ten distinct xxxxx-xxxxx codes of the unambiguous alphabet."""
    codes = generate_codes()

    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(DISPLAY.match(code) for code in codes)


def test_codes_differ_between_calls_and_count_is_honoured() -> None:
    """Two generations share no code; a count of 12 gives 12 codes."""
    assert not set(generate_codes()) & set(generate_codes())
    assert len(generate_codes(12)) == 12


def test_count_below_one_is_refused() -> None:
    """Asking for no code is a ValueError."""
    with pytest.raises(ValueError, match="at least 1"):
        generate_codes(0)


def test_generated_codes_normalise_to_themselves_without_the_dash() -> None:
    """Every generated code is accepted as typed, and its canonical form is the code without the dash."""
    for code in generate_codes():
        assert normalise_recovery_code(code) == code.replace("-", "")


@given(canonical_codes, st.lists(st.sampled_from(["-", " ", "\t", "\n"]), max_size=4), st.data())
def test_case_dashes_and_spaces_do_not_matter(code: str, separators: list[str], data: st.DataObject) -> None:
    """Upper case, dashes and white space anywhere in a code give the same canonical form."""
    typed = list(code.upper())
    for separator in separators:
        typed.insert(data.draw(st.integers(0, len(typed))), separator)

    assert normalise_recovery_code("".join(typed)) == code


@given(canonical_codes.filter(lambda code: "0" in code or "1" in code))
def test_confusable_letters_read_as_digits(code: str) -> None:
    """o/O read as 0, i/I/l/L as 1 (Crockford), so a code read off paper still matches."""
    typed = code.replace("0", "O").replace("1", "l")

    assert normalise_recovery_code(typed) == code


@given(st.text())
def test_any_text_normalises_to_a_canonical_code_or_none(text: str) -> None:
    """Whatever is typed, the result is None or ten symbols of the alphabet that normalise to themselves."""
    result = normalise_recovery_code(text)

    if result is not None:
        assert len(result) == CODE_LENGTH
        assert set(result) <= set(ALPHABET)
        assert normalise_recovery_code(result) == result


@pytest.mark.parametrize("typed", ["", "abcde-fghj", "abcde-fghjkm", "abcde-fghju", "abcde_fghjk", "abcde-fghj\u212a"])
def test_wrong_lengths_and_symbols_are_refused(typed: str) -> None:
    """Nine or eleven symbols, a u, an underscore, or a non-ASCII look-alike (the Kelvin sign) are not codes."""
    assert normalise_recovery_code(typed) is None
