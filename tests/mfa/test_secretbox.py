"""SecretBox: AES-GCM round trip, binding to user and purpose, tampering, key rotation, digests."""

from __future__ import annotations

import base64
import uuid

import pytest
from pydantic import SecretStr

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mfa import SecretBox, SecretUnreadable
from tests.mfa.conftest import KEY, OLD_KEY

USER = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER = uuid.UUID("00000000-0000-4000-8000-000000000002")


def _flip(ciphertext: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(ciphertext + "=" * (-len(ciphertext) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_round_trip() -> None:
    """A value encrypted for a user and purpose decrypts to itself, and the ciphertext does not contain it."""
    box = SecretBox(KEY)

    stored = box.encrypt("JBSWY3DPEHPK3PXP", user_id=USER, purpose="totp")

    assert "JBSWY3DPEHPK3PXP" not in stored
    assert box.decrypt(stored, user_id=USER, purpose="totp") == "JBSWY3DPEHPK3PXP"


def test_each_encryption_uses_a_fresh_nonce() -> None:
    """Encrypting one value twice gives two different ciphertexts."""
    box = SecretBox(KEY)

    assert box.encrypt("x", user_id=USER, purpose="totp") != box.encrypt("x", user_id=USER, purpose="totp")


def test_secretstr_and_str_give_the_same_key() -> None:
    """A secret given as SecretStr is the same key as the plain string."""
    stored = SecretBox(SecretStr(KEY)).encrypt("x", user_id=USER, purpose="totp")

    assert SecretBox(KEY).decrypt(stored, user_id=USER, purpose="totp") == "x"


@pytest.mark.parametrize(("user_id", "purpose"), [(OTHER, "totp"), (USER, "recovery_code"), (str(USER), "totp ")])
def test_a_ciphertext_moved_to_another_row_or_purpose_is_refused(user_id: object, purpose: str) -> None:
    """A ciphertext presented for another user id or another purpose fails authentication."""
    box = SecretBox(KEY)
    stored = box.encrypt("secret", user_id=USER, purpose="totp")

    with pytest.raises(SecretUnreadable):
        box.decrypt(stored, user_id=user_id, purpose=purpose)


@pytest.mark.parametrize("index", [0, 1, 5, 20, -1])
def test_tampering_anywhere_is_refused(index: int) -> None:
    """Flipping one bit of the version, key id, nonce, ciphertext or tag makes the value unreadable."""
    box = SecretBox(KEY)
    stored = box.encrypt("secret", user_id=USER, purpose="totp")

    with pytest.raises(SecretUnreadable):
        box.decrypt(_flip(stored, index), user_id=USER, purpose="totp")


@pytest.mark.parametrize("garbage", ["", "abc", "!!!!", "a" * 5, "é", "AQ" * 20])
def test_malformed_values_are_unreadable(garbage: str) -> None:
    """Values that are not base64, too short or of another version raise SecretUnreadable, nothing else."""
    box = SecretBox(KEY)

    with pytest.raises(SecretUnreadable):
        box.decrypt(garbage, user_id=USER, purpose="totp")


def test_a_value_from_another_key_is_unreadable() -> None:
    """A ciphertext made under a key that is not configured cannot be read."""
    stored = SecretBox(OLD_KEY).encrypt("secret", user_id=USER, purpose="totp")

    with pytest.raises(SecretUnreadable):
        SecretBox(KEY).decrypt(stored, user_id=USER, purpose="totp")


def test_rotation_old_key_decrypts_and_rotate_reencrypts_under_the_first() -> None:
    """With [new, old] configured, old ciphertexts decrypt; rotate() moves them to the new key alone."""
    old_stored = SecretBox(OLD_KEY).encrypt("secret", user_id=USER, purpose="totp")
    box = SecretBox([KEY, OLD_KEY])

    rotated = box.rotate(old_stored, user_id=USER, purpose="totp")

    assert box.decrypt(old_stored, user_id=USER, purpose="totp") == "secret"
    assert box.needs_rotation(old_stored)
    assert not box.needs_rotation(rotated)
    assert SecretBox(KEY).decrypt(rotated, user_id=USER, purpose="totp") == "secret"


@pytest.mark.parametrize("secrets", ["short", [KEY, "x" * 31], [], SecretStr("s" * 31)])
def test_short_or_missing_secrets_are_refused_at_construction(secrets: object) -> None:
    """No secret, or one under 32 bytes, is a ConfigurationError when the box is built."""
    with pytest.raises(ConfigurationError):
        SecretBox(secrets)  # type: ignore[arg-type]


def test_repr_shows_no_key() -> None:
    """The box's repr names how many keys it has, not what they are."""
    assert repr(SecretBox([KEY, OLD_KEY])) == "SecretBox(<2 key(s)>)"


def test_digests_are_keyed_bound_and_listed_for_every_key() -> None:
    """A digest depends on key, user and purpose; digests() lists the first key's digest first."""
    box = SecretBox([KEY, OLD_KEY])

    digests = box.digests("abc", user_id=USER, purpose="recovery_code")

    assert digests[0] == box.digest("abc", user_id=USER, purpose="recovery_code")
    assert digests[1] == SecretBox(OLD_KEY).digest("abc", user_id=USER, purpose="recovery_code")
    assert len(digests[0]) == 43
    assert len(set(digests)) == 2
    assert box.digest("abc", user_id=OTHER, purpose="recovery_code") not in digests
    assert box.digest("abc", user_id=USER, purpose="totp") not in digests
