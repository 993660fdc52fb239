"""The secrets of the e-mails: link secrets, short codes, and the keyed digests stored instead.

A link secret is 256 bits from the CSPRNG (``secrets.token_urlsafe(32)``), far above the 128 bits
ASVS 5.0 6.5.x asks of a secret sent out of band. A code is typed by a person, so it is short:
6 to 8 symbols of a 30-symbol alphabet without the characters people confuse (no ``0``/``O``,
``1``/``I``/``L``, no ``U``): 29.4 bits at 6 symbols, guarded by the attempt cap (at most 5
guesses per e-mail, NIST SP 800-63B 5.1.3.2: out-of-band secrets of at least 20 bits with a
retry limit).

Neither is stored. The tables hold an HMAC-SHA256 of each, keyed by a key derived from the
application's secret with HKDF (RFC 5869), so a dump of the tables gives no usable link or
code, and a short code cannot be searched for offline without the key (a plain SHA-256 of a
30-bit code falls in seconds). Several secrets may be configured: the first digests, every one
of them verifies, so the application secret can be rotated while e-mails are in flight.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from pydantic import SecretStr

from fastapi_userkit.exceptions import ConfigurationError

__all__ = [
    "CODE_ALPHABET",
    "LINK_SECRET_BYTES",
    "MIN_SECRET_BYTES",
    "Digester",
    "new_code",
    "new_link_secret",
    "normalise_code",
]

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
"""30 symbols: digits and capitals without ``0 1 I L O U`` (read aloud or off a phone without doubt)."""

LINK_SECRET_BYTES = 32
"""256 bits per link secret."""

MIN_SECRET_BYTES = 32
"""Shortest accepted application secret (as the library's other secrets)."""

_SALT = b"fastapi-userkit/email-auth/v1"
_SEPARATORS = str.maketrans("", "", "- \t\r\n")
_SYMBOLS = frozenset(CODE_ALPHABET)


def new_link_secret() -> str:
    """A fresh link secret: 256 bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(LINK_SECRET_BYTES)


def new_code(length: int) -> str:
    """A fresh code of ``length`` symbols of :data:`CODE_ALPHABET`, from the CSPRNG."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalise_code(text: str, length: int) -> str | None:
    """The canonical form of a typed code, or ``None`` if it cannot be one.

    Case, dashes and white space are ignored (a code is shown in groups); anything outside ASCII
    is refused before ``upper()``, which maps some non-ASCII letters to ASCII ones.
    """
    if not text.isascii():
        return None
    symbols = text.upper().translate(_SEPARATORS)
    if len(symbols) != length or not _SYMBOLS.issuperset(symbols):
        return None
    return symbols


def _hkdf_sha256(secret: bytes, info: bytes) -> bytes:
    # RFC 5869 with SHA-256 and one output block (L = 32): extract, then expand T(1).
    prk = hmac.new(_SALT, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def _raw(secret: str | SecretStr) -> bytes:
    raw = (secret.get_secret_value() if isinstance(secret, SecretStr) else secret).encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"E-mail sign-in secrets must be at least {MIN_SECRET_BYTES} bytes long.")
    return raw


class Digester:
    """Keyed digests (HMAC-SHA256) of link secrets and codes, under keys derived from the app's secrets.

    Args:
        secrets: One secret or a list; each at least 32 bytes. The first digests; every one of
            them verifies (list the new secret first to rotate).

    Raises:
        ConfigurationError: No secret, or a secret shorter than 32 bytes.
    """

    def __init__(self, secrets: str | SecretStr | Sequence[str | SecretStr]) -> None:
        listed = [secrets] if isinstance(secrets, str | SecretStr) else list(secrets)
        if not listed:
            raise ConfigurationError("E-mail sign-in needs at least one secret.")
        self._keys = tuple(_hkdf_sha256(_raw(secret), b"hmac-sha256 digest key") for secret in listed)

    def __repr__(self) -> str:
        return f"Digester(<{len(self._keys)} key(s)>)"

    def digest(self, value: str, *, purpose: str, context: str = "") -> str:
        """The digest of ``value`` for ``purpose`` and ``context`` under the first key (43 characters)."""
        return self.digests(value, purpose=purpose, context=context)[0]

    def digests(self, value: str, *, purpose: str, context: str = "") -> tuple[str, ...]:
        """The digest of ``value`` under every configured key, the first key's first.

        ``purpose`` keeps a link digest from matching a code digest; ``context`` binds a code to
        its pending sign-in, so one code never matches another row. Fields are length-prefixed,
        so two different triples never give the same message.
        """
        fields = (purpose.encode(), context.encode(), value.encode())
        message = b"".join(len(field).to_bytes(4, "big") + field for field in fields)
        return tuple(
            base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode("ascii")
            for key in self._keys
        )

    def matches(self, value: str, stored: str, *, purpose: str, context: str = "") -> bool:
        """Whether ``stored`` is the digest of ``value`` under any key (each compared in constant time)."""
        candidates = self.digests(value, purpose=purpose, context=context)
        # Every key is compared, matched or not, so the time taken does not tell which key matched.
        return sum(hmac.compare_digest(candidate, stored) for candidate in candidates) > 0
