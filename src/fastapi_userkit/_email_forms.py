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

import unicodedata
from functools import lru_cache

from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

__all__ = ["account_skeleton", "login_email", "lookalike_problem"]

# Default-ignorable code points outside the categories dropped below (Unicode's
# DerivedCoreProperties.txt, Default_Ignorable_Code_Point): the Hangul fillers.
_IGNORABLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Format (Cf: zero-width space and joiners, word joiner, soft hyphen, bidi marks), nonspacing
# and enclosing marks (accents, variation selectors, combining grapheme joiner), controls.
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc"})
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=4096)
def account_skeleton(account: str) -> str:
    """One form for every spelling of ``account`` that any supported database may match to it.

    Compatibility decomposition (NFKD: width, circled and mathematical letters, ligatures),
    without combining marks (accents, NFC/NFD differences) and default-ignorable characters
    (U+200B, U+2060, soft hyphen, variation selectors, ...), case-folded with dotted and dotless
    i as ``i``, recomposed (NFKC) and stripped.
    """
    decomposed = unicodedata.normalize("NFKD", account)
    kept = "".join(
        char
        for char in decomposed
        if unicodedata.category(char) not in _DROPPED_CATEGORIES and char not in _IGNORABLE_LETTERS
    )
    # U+0130 decomposed to "I" and a dropped dot above; U+0131 (dotless i) has no decomposition.
    folded = kept.casefold().replace("\u0131", "i")
    return unicodedata.normalize("NFKC", folded).strip()


def _without_marks(value: str) -> str:
    decomposed = unicodedata.normalize("NFD", value)
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if unicodedata.category(char) != "Mn"))


def lookalike_problem(email: str) -> str | None:
    """Why ``email`` (as registration normalised it) cannot be registered, or ``None``.

    Refused: characters that NFKC changes (full-width, circled or mathematical letters,
    ligatures), invisible or format characters, and non-ASCII letters in upper case or with a
    case mapping of their own (U+0130, U+0131, ``ß``, ``ς``): SQLite, PostgreSQL and MariaDB
    each match a different set of such spellings to an existing account. Accented letters are
    accepted: MariaDB's collation matches ``josé`` to ``jose`` where SQLite and PostgreSQL keep
    two accounts (the rate limits treat them as one everywhere).
    """
    if unicodedata.normalize("NFKC", email) != email:
        return "The e-mail address contains full-width, circled or other compatibility characters."
    if account_skeleton(email) != _without_marks(email.translate(_ASCII_LOWER)).strip():
        return "The e-mail address contains a non-ASCII capital, or a letter with a case mapping of its own (ß)."
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
