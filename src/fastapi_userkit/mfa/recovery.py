"""Recovery codes: generated from the CSPRNG, shown once, stored only as keyed digests (T42).

Format: ``xxxxx-xxxxx``, ten characters of Crockford's base32 alphabet (digits and lower-case
letters without ``i``, ``l``, ``o``, ``u``), 50 bits each. Input is normalised the way Crockford
specifies, so what a person reads off paper is accepted: case, dashes and spaces are ignored,
``o`` reads as ``0`` and ``i``/``l`` as ``1``.

Why a keyed digest (HMAC-SHA256 under a server key, see
:meth:`~fastapi_userkit.mfa.SecretBox.digest`) and not a plain SHA-256: 50 bits is far too
little entropy to resist an offline search of a leaked table (2**50 SHA-256 is hours on one
GPU), and a slow password hash for ten codes would cost ten Argon2 runs per attempt. With an
HMAC, a dump of the table without the application's secret reveals nothing, and online guessing
is left to the rate limiter (10 codes x 2**-50 per guess). The digest also covers the user id,
so one code never matches another user's row.
"""

from __future__ import annotations

import secrets

__all__ = ["ALPHABET", "CODE_LENGTH", "DEFAULT_COUNT", "generate_codes", "normalise_recovery_code"]

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
"""Crockford's base32 alphabet, lower case (32 symbols, 5 bits each)."""

CODE_LENGTH = 10
DEFAULT_COUNT = 10
"""ASVS 5.0 6.5.1 / T42 asks for at least ten."""

_GROUP = 5
_SEPARATORS = str.maketrans("", "", "- \t\r\n")
_CONFUSABLE = str.maketrans({"o": "0", "i": "1", "l": "1"})
_SYMBOLS = frozenset(ALPHABET)


def _format(symbols: str) -> str:
    return "-".join(symbols[start : start + _GROUP] for start in range(0, len(symbols), _GROUP))


def generate_codes(count: int = DEFAULT_COUNT) -> list[str]:
    """``count`` distinct new recovery codes in display form (``xxxxx-xxxxx``).

    Raises:
        ValueError: ``count`` is less than one.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    codes: set[str] = set()
    while len(codes) < count:  # a repeat (about 1 in 2**44 for ten codes) just draws again
        codes.add("".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)))
    return [_format(code) for code in sorted(codes)]


def normalise_recovery_code(text: str) -> str | None:
    """The canonical form of a typed recovery code (ten symbols, no dashes), or ``None`` if it is not one.

    Case, dashes and white space are ignored; ``o``/``i``/``l`` read as ``0``/``1``/``1``; anything
    outside ASCII is refused.
    """
    if not text.isascii():  # str.lower() maps some non-ASCII letters (the Kelvin sign) to ASCII ones
        return None
    symbols = text.lower().translate(_SEPARATORS).translate(_CONFUSABLE)
    if len(symbols) != CODE_LENGTH or not _SYMBOLS.issuperset(symbols):
        return None
    return symbols
