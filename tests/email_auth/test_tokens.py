"""Link secrets, codes and their keyed digests."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from fastapi_userkit.email_auth.tokens import CODE_ALPHABET, Digester, new_code, new_link_secret, normalise_code
from fastapi_userkit.exceptions import ConfigurationError

KEY = "k" * 32
NEW_KEY = "n" * 32


def test_link_secrets_carry_256_bits() -> None:
    """A link secret is 32 random bytes in URL-safe base64, new every time."""
    secrets = {new_link_secret() for _ in range(100)}

    assert len(secrets) == 100
    assert all(len(secret) == 43 for secret in secrets)


@pytest.mark.parametrize("length", [6, 7, 8])
def test_codes_use_the_unambiguous_alphabet(length: int) -> None:
    """A code has the asked length, only unambiguous symbols, and normalises to itself."""
    codes = [new_code(length) for _ in range(200)]

    assert all(len(code) == length for code in codes)
    assert set("".join(codes)) <= set(CODE_ALPHABET)
    assert not set("01ILOU") & set(CODE_ALPHABET)
    assert all(normalise_code(code, length) == code for code in codes)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abc-def", "ABCDEF"),
        (" A B C D E F ", "ABCDEF"),
        ("ABCDE", None),
        ("ABCDEFG", None),
        ("ABCDE0", None),  # zero is not in the alphabet
        ("ABCDEÄ", None),  # non-ASCII
        ("ABCDEﬀ", None),  # a ligature whose upper case is ASCII "FF"
    ],
)
def test_typed_codes_are_normalised_or_refused(typed: str, expected: str | None) -> None:
    """Case, dashes and spaces are ignored; wrong length, symbols outside the alphabet and non-ASCII are refused."""
    assert normalise_code(typed, 6) == expected


def test_digests_are_keyed_and_bound_to_purpose_and_context() -> None:
    """The digest depends on the key, the purpose and the context; the same input gives the same digest."""
    digester = Digester(KEY)
    digest = digester.digest("value", purpose="link")

    assert digest == digester.digest("value", purpose="link")
    assert len(digest) == 43
    assert digest != Digester(NEW_KEY).digest("value", purpose="link")
    assert digest != digester.digest("value", purpose="code")
    assert digest != digester.digest("value", purpose="link", context="row")
    assert digester.digest("b", purpose="a", context="") != digester.digest("", purpose="a", context="b")


def test_rotation_verifies_with_every_key_and_digests_with_the_first() -> None:
    """After a rotation the old key's digests still match; new digests use the new key."""
    old = Digester(SecretStr(KEY))
    rotated = Digester([NEW_KEY, SecretStr(KEY)])
    stored = old.digest("code", purpose="code", context="id")

    assert rotated.matches("code", stored, purpose="code", context="id")
    assert not rotated.matches("other", stored, purpose="code", context="id")
    assert rotated.digest("code", purpose="code", context="id") == Digester(NEW_KEY).digest(
        "code", purpose="code", context="id"
    )
    assert rotated.digests("x", purpose="p")[1] == old.digest("x", purpose="p")
    assert "n" not in repr(rotated)


@pytest.mark.parametrize("secrets", [[], "short", ["k" * 32, "short"]])
def test_weak_secrets_are_refused(secrets: str | list[str]) -> None:
    """No secret, or one under 32 bytes, fails at construction."""
    with pytest.raises(ConfigurationError):
        Digester(secrets)
