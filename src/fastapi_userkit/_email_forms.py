"""The forms of an e-mail address: as stored, as one account's skeleton, and look-alikes refused.

Three databases compare addresses three ways (issue 16, item 2): SQLite's ``lower()`` folds
ASCII letters only, PostgreSQL's ``lower()`` folds every cased letter (U+0130 ``İ`` to ``i``),
and MariaDB/MySQL's case-insensitive collations also ignore accents, width, compatibility forms
and zero-width characters. Two consequences:

- A per-account rate limit is reserved before the user lookup, so its key cannot be the user's
  id. It is a *skeleton* (:func:`account_skeleton`) that merges at least every spelling that
  any of the three lookups may match to one account. Merging two distinct addresses only makes
  them share a budget; splitting one account's spellings gave an attacker a fresh budget per
  spelling.
- Registration refuses addresses whose spellings the databases would tell apart differently
  (:func:`lookalike_problem`), so that which addresses are "the same account" does not depend
  on the database: every accepted address equals its own skeleton up to ASCII case and accents,
  and two accepted addresses with one skeleton therefore differ only in ASCII case (one account
  on every database, through the unique index on ``lower(email)`` or MariaDB's collation) or in
  accents (see :func:`lookalike_problem`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from fastapi_userkit import _collation_data

__all__ = ["account_skeleton", "login_email", "lookalike_problem"]

# MariaDB's collation, measured on a live server by scripts/collation_table.py: code points it
# ignores (U+0640 ARABIC TATWEEL, U+0F3E, ...) map to "", code points it weighs as an ASCII
# character (U+0363 COMBINING LATIN SMALL LETTER A, U+1F165 NEGATIVE CIRCLED LATIN CAPITAL
# LETTER V, U+0661 ARABIC-INDIC DIGIT ONE, ...) map to that character.
_COLLATION: dict[int, str] = {cp: "" for first, last in _collation_data.IGNORABLE for cp in range(first, last + 1)} | {
    cp: char
    for char, runs in _collation_data.ASCII_EQUAL.items()
    for first, last in runs
    for cp in range(first, last + 1)
}

# General rules for what the table does not cover (another server version, MySQL's
# utf8mb4_0900_as_ci): letters without spacing (Lm: modifiers, U+0640 tatweel), format (Cf:
# zero-width space and joiners, soft hyphen, bidi marks), nonspacing and enclosing marks
# (accents, variation selectors) and controls are dropped ...
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc", "Lm"})
# ... as are the default-ignorable code points outside those categories (Unicode's
# DerivedCoreProperties.txt, Default_Ignorable_Code_Point): the Hangul fillers and the reserved
# ranges U+2065, U+FFF0-U+FFF8 and U+E0000-U+E0FFF.
_IGNORABLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2065")
_IGNORABLE_RANGES = ((0xFFF0, 0xFFF8), (0xE0000, 0xE0FFF))
# A character named after a Latin letter ("COMBINING LATIN SMALL LETTER A", "NEGATIVE SQUARED
# LATIN CAPITAL LETTER V") is weighed as that letter by the UCA collations.
_LATIN_LETTER = re.compile(r"LATIN (?:SMALL |CAPITAL )?LETTER ([A-Z])$")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=8192)
def _char_skeleton(char: str) -> str:
    """One character (after NFKD) as the skeleton keeps it: dropped, an ASCII form, or itself."""
    cp = ord(char)
    if cp in _COLLATION:
        return _COLLATION[cp]
    if (
        unicodedata.category(char) in _DROPPED_CATEGORIES
        or char in _IGNORABLE_LETTERS
        or any(first <= cp <= last for first, last in _IGNORABLE_RANGES)
    ):
        return ""
    digit = unicodedata.digit(char, None)
    if digit is not None:
        # Every decimal digit (Arabic-Indic, Devanagari, ...) weighs as its ASCII digit.
        return str(digit)
    return _latin_letter(char)


@lru_cache(maxsize=8192)
def _latin_letter(char: str) -> str:
    """The ASCII letter ``char`` is named after (before NFKD splits U+1F12A into brackets), or itself."""
    latin = _LATIN_LETTER.search(unicodedata.name(char, ""))
    return latin.group(1).lower() if latin else char


@lru_cache(maxsize=4096)
def account_skeleton(account: str) -> str:
    """One form for every spelling of ``account`` that any supported database may match to it.

    Each code point MariaDB's collation ignores or weighs as an ASCII character is dropped or
    replaced by it (``_collation_data``, measured on the server); then the compatibility
    decomposition (NFKD: width, circled and mathematical letters, ligatures) without combining
    marks (accents, NFC/NFD differences), modifier letters and default-ignorable characters
    (U+200B, U+2060, soft hyphen, variation selectors, ...), with every decimal digit as its
    ASCII digit and every character named after a Latin letter as that letter; case-folded
    with dotted and dotless i as ``i``, recomposed (NFKC) and stripped.
    """
    named = "".join(_latin_letter(char) for char in account.translate(_COLLATION))
    decomposed = unicodedata.normalize("NFKD", named)
    kept = "".join(_char_skeleton(char) for char in decomposed)
    # U+0130 decomposed to "I" and a dropped dot above; U+0131 (dotless i) has no decomposition.
    folded = kept.casefold().replace("\u0131", "i")
    return unicodedata.normalize("NFKC", folded).strip()


def _without_accents(value: str) -> str:
    """``value`` without the combining marks every database weighs (accents): NFD, marks off, NFC.

    A mark MariaDB ignores stays, so that the skeleton, which drops it, differs.
    """
    decomposed = unicodedata.normalize("NFD", value)
    return unicodedata.normalize(
        "NFC",
        "".join(char for char in decomposed if unicodedata.category(char) != "Mn" or ord(char) in _COLLATION),
    )


def lookalike_problem(email: str) -> str | None:
    """Why ``email`` (as registration normalised it) cannot be registered, or ``None``.

    Refused: every character the skeleton drops or replaces beyond ASCII case and accents, that
    is characters that NFKC changes (full-width, circled or mathematical letters, ligatures),
    invisible, format or modifier characters, characters MariaDB's collation ignores (U+0640)
    or weighs as an ASCII letter or digit (U+0363, U+1F165, U+0661), non-ASCII digits, and
    non-ASCII letters in upper case or with a case mapping of their own (U+0130, U+0131,
    ``ß``, ``ς``). SQLite, PostgreSQL and MariaDB each match a different set of such spellings
    to an existing account. Accented letters are accepted: every database (MariaDB's collation
    is accent-sensitive) keeps ``josé`` and ``jose`` as two accounts, which the rate limits
    treat as one budget.
    """
    if unicodedata.normalize("NFKC", email) != email:
        return "The e-mail address contains full-width, circled or other compatibility characters."
    if account_skeleton(email) != _without_accents(email.translate(_ASCII_LOWER)).strip():
        return (
            "The e-mail address contains an invisible character, a look-alike of an ASCII letter or digit,"
            " a non-ASCII capital, or a letter with a case mapping of its own (ß)."
        )
    return None


def login_email(username: str) -> str:
    """The address typed at login, normalised as registration normalised it when stored.

    Registration and forgot-password read ``EmailStr``, which stores email-validator's form
    (NFC, domain in lower case); login reads a free ``username`` (OAuth2 password form), so an
    NFD spelling of a registered address found no account. A username that is no valid address
    is looked up as typed, in NFC.
    """
    try:
        return validate_email(username)[1]
    except PydanticCustomError:
        return unicodedata.normalize("NFC", username)
