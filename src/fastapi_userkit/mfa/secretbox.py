"""Encryption at rest of factor secrets, and keyed digests of values that are only ever checked.

A TOTP secret must be readable by the server (it computes the expected code), so it is
encrypted, not hashed (OWASP ASVS 5.0 6.5.5 / T41). The cipher is AES-256-GCM (an AEAD,
NIST SP 800-38D) from ``cryptography``; Fernet was set aside because it cannot bind associated
data. Each ciphertext is bound to its user id and purpose as associated data, so a ciphertext
copied into another user's row, or used for another purpose, fails authentication instead of
being accepted.

Keys come from the application's secrets through HKDF-SHA256 (RFC 5869), one derivation per
use (encryption key, key id, digest key), so no raw secret is used directly and the key id
reveals nothing about the key. Several secrets may be configured: the first encrypts and
digests, all of them decrypt and verify, so a secret can be rotated without losing a factor
(:meth:`SecretBox.rotate` moves one ciphertext to the first key).

Ciphertext layout (base64url without padding)::

    version (1 byte, 1) | key id (4 bytes) | nonce (12 bytes, random) | ciphertext + GCM tag (16 bytes)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mfa.exceptions import SecretUnreadable

__all__ = ["MIN_SECRET_BYTES", "SecretBox"]

MIN_SECRET_BYTES = 32
"""Shortest accepted application secret: 256 bits, the AES key size (as the library's other secrets)."""

_VERSION = 1
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12  # the GCM nonce size NIST SP 800-38D recommends; random nonces are safe far below 2**32 uses per key
_HEADER_BYTES = 1 + _KEY_ID_BYTES
_SALT = b"fastapi-userkit/mfa/v1"


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret)


@dataclass(frozen=True, repr=False)
class _Key:
    key_id: bytes
    aead: AESGCM
    digest_key: bytes


def _key_from(secret: str | SecretStr) -> _Key:
    raw = (secret.get_secret_value() if isinstance(secret, SecretStr) else secret).encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"SecretBox secrets must be at least {MIN_SECRET_BYTES} bytes long.")
    return _Key(
        key_id=_derive(raw, b"key id")[:_KEY_ID_BYTES],
        aead=AESGCM(_derive(raw, b"aes-256-gcm key")),
        digest_key=_derive(raw, b"hmac-sha256 digest key"),
    )


def _associated_data(user_id: Any, purpose: str) -> bytes:
    # Length-prefixed fields, so ("ab", "c") and ("a", "bc") can never produce the same bytes.
    fields = [purpose.encode(), str(user_id).encode()]
    return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


class SecretBox:
    """Encrypts factor secrets for one user and purpose; digests values for later comparison.

    Args:
        secrets: One secret or a list; each at least 32 bytes. The first encrypts and digests;
            every one of them decrypts and verifies (list the new secret first to rotate).

    Raises:
        ConfigurationError: No secret, or a secret shorter than 32 bytes.

    Example::

        box = SecretBox([settings.mfa_key, settings.old_mfa_key])
        stored = box.encrypt(totp_secret, user_id=user.id, purpose="totp")
        assert box.decrypt(stored, user_id=user.id, purpose="totp") == totp_secret
    """

    def __init__(self, secrets: str | SecretStr | Sequence[str | SecretStr]) -> None:
        listed = [secrets] if isinstance(secrets, str | SecretStr) else list(secrets)
        if not listed:
            raise ConfigurationError("SecretBox needs at least one secret.")
        self._keys = [_key_from(secret) for secret in listed]

    def __repr__(self) -> str:
        return f"SecretBox(<{len(self._keys)} key(s)>)"

    def encrypt(self, plaintext: str, *, user_id: Any, purpose: str) -> str:
        """Encrypt ``plaintext`` under the first key, bound to ``user_id`` and ``purpose``."""
        key = self._keys[0]
        header = bytes([_VERSION]) + key.key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, plaintext.encode(), header + _associated_data(user_id, purpose))
        return base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, ciphertext: str, *, user_id: Any, purpose: str) -> str:
        """Decrypt a value made by :meth:`encrypt` for the same ``user_id`` and ``purpose``.

        Raises:
            SecretUnreadable: The value is malformed or altered, belongs to another user or
                purpose, or was encrypted under a key that is no longer configured.
        """
        raw = self._decode(ciphertext)
        header = raw[:_HEADER_BYTES]
        nonce = raw[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
        sealed = raw[_HEADER_BYTES + _NONCE_BYTES :]
        associated = header + _associated_data(user_id, purpose)
        for key in self._keys:
            if not hmac.compare_digest(key.key_id, header[1:]):
                continue
            try:
                return key.aead.decrypt(nonce, sealed, associated).decode()
            except (InvalidTag, UnicodeDecodeError):
                # Two configured secrets may share a 32-bit key id by chance: try the next one.
                continue
        raise SecretUnreadable

    def needs_rotation(self, ciphertext: str) -> bool:
        """Whether ``ciphertext`` was encrypted under another key than the first.

        Raises:
            SecretUnreadable: The value is malformed.
        """
        return self._decode(ciphertext)[1:_HEADER_BYTES] != self._keys[0].key_id

    def rotate(self, ciphertext: str, *, user_id: Any, purpose: str) -> str:
        """Re-encrypt ``ciphertext`` under the first key (a fresh nonce every time).

        Raises:
            SecretUnreadable: As :meth:`decrypt`.
        """
        return self.encrypt(
            self.decrypt(ciphertext, user_id=user_id, purpose=purpose), user_id=user_id, purpose=purpose
        )

    def digest(self, value: str, *, user_id: Any, purpose: str) -> str:
        """The HMAC-SHA256 of ``value`` for ``user_id`` and ``purpose`` under the first key (43 characters)."""
        return self.digests(value, user_id=user_id, purpose=purpose)[0]

    def digests(self, value: str, *, user_id: Any, purpose: str) -> tuple[str, ...]:
        """The digest of ``value`` under every configured key, the first key's first.

        A value digested before a key rotation is found by looking up all of them.
        """
        message = _associated_data(user_id, purpose) + value.encode()
        return tuple(
            base64.urlsafe_b64encode(hmac.new(key.digest_key, message, hashlib.sha256).digest())
            .rstrip(b"=")
            .decode("ascii")
            for key in self._keys
        )

    @staticmethod
    def _decode(ciphertext: str) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(ciphertext + "=" * (-len(ciphertext) % 4))
        except (binascii.Error, ValueError) as exc:
            raise SecretUnreadable from exc
        # At least the header, a nonce and a GCM tag, and a version this code wrote.
        if len(raw) < _HEADER_BYTES + _NONCE_BYTES + 16 or raw[0] != _VERSION:
            raise SecretUnreadable
        return raw
