"""The default password policy: NIST SP 800-63B and OWASP ASVS 5.0 section 6.2.

What it checks, and why:

* a minimum length, counted in Unicode code points after NFKC normalisation (NIST 800-63B
  "each code point counts as one character"; ASVS 6.2.1: at least 8);
* a hard maximum in UTF-8 bytes, so a megabyte "password" is refused before anything hashes it
  (hashing-DoS guard; the default 1,024 bytes admits any 64-character password, ASVS 6.2.9);
* no composition rules: no digit, case or symbol is ever required (ASVS 6.2.5, NIST);
* not one of the most common passwords of an offline list shipped with the package
  (ASVS 6.2.4 asks for the top 3,000; the list holds over 40,000, about 16,000 of 8+ characters);
* not containing the local part of the user's e-mail address or an application word
  (ASVS 6.2.11, NIST "context-specific words").

Passwords are compared exactly as received: no truncation, no case folding, no stripping of
spaces (ASVS 6.2.8). Only the common-password and context checks compare case-insensitively,
since ``Password1`` is as guessable as ``password1``.

Normalisation: :func:`normalize_password` (NFKC) is applied before hashing and before verifying
by :mod:`fastapi_userkit.security.password_hashing`, the one place the manager hashes through,
so the NFC and NFD spellings of the same password both log in (NIST 800-63B 5.1.1.2).
"""

from __future__ import annotations

import functools
import gzip
import unicodedata
from dataclasses import dataclass
from importlib import resources

from fastapi_userkit.exceptions import ConfigurationError, InvalidPasswordException

__all__ = [
    "DEFAULT_PASSWORD_POLICY",
    "PasswordPolicy",
    "load_common_passwords",
    "normalize_password",
]

_COMMON_PASSWORDS_FILE = "common_passwords.txt.gz"
# Any 64 code points fit in 256 UTF-8 bytes (4 bytes each at most): a smaller cap would break
# the "64 characters must be accepted" rule (ASVS 6.2.9, NIST 800-63B).
_MIN_MAX_BYTES = 256
_MAX_MIN_LENGTH = 64


def normalize_password(password: str) -> str:
    """Return the NFKC normal form of ``password``, the form that is hashed and verified.

    NFKC makes the composed (NFC) and decomposed (NFD) spellings of an accented letter, and
    compatibility forms such as full-width digits, the same password (NIST 800-63B 5.1.1.2).
    """
    return unicodedata.normalize("NFKC", password)


@functools.cache
def load_common_passwords() -> frozenset[str]:
    """Return the shipped list of common passwords, lowercased; read once, on first use.

    The data (and its licences, see ``common_passwords.LICENSE``) ships inside the package, so
    the check works offline and sends nothing anywhere.
    """
    data = resources.files(__package__).joinpath(_COMMON_PASSWORDS_FILE).read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Rules a new password must pass; the default of :meth:`BaseUserManager.validate_password`.

    Give it to the user manager to tune it (``password_policy=``), or ``None`` to turn the checks
    (and the login size guard) off. An application that overrides ``validate_password`` keeps
    its own rules; the byte cap still applies unless the policy is ``None``.

    Example::

        UserManager(user_db, password_policy=PasswordPolicy(min_length=15, context_words=("camelot",)))

    The class attribute of earlier releases still works (the constructor's argument wins)::

        class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
            password_policy = PasswordPolicy(min_length=15, context_words=("camelot",))

    Raises:
        ConfigurationError: At construction, for a minimum outside 1-64 or a byte cap too small
            for a 64-character password.
    """

    min_length: int = 8
    """Fewest code points (after NFKC). ASVS 6.2.1: at least 8; 15 is recommended without MFA."""

    max_bytes: int = 1024
    """Most UTF-8 bytes accepted, at registration, change, reset and login (hashing-DoS guard)."""

    check_common: bool = True
    """Refuse passwords on the shipped common-passwords list (ASVS 6.2.4)."""

    check_email: bool = True
    """Refuse passwords containing the e-mail's local part, when it is long enough (ASVS 6.2.11)."""

    min_context_length: int = 3
    """Shortest e-mail local part or context word that is looked for (shorter ones match too much)."""

    context_words: tuple[str, ...] = ()
    """Words no password may contain, such as the application's name (ASVS 6.2.11)."""

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= _MAX_MIN_LENGTH:
            raise ConfigurationError(f"PasswordPolicy.min_length must be between 1 and {_MAX_MIN_LENGTH}.")
        if self.max_bytes < _MIN_MAX_BYTES:
            raise ConfigurationError(
                f"PasswordPolicy.max_bytes must be at least {_MIN_MAX_BYTES} so 64-character passwords fit."
            )
        if self.min_context_length < 1:
            raise ConfigurationError("PasswordPolicy.min_context_length must be at least 1.")

    def exceeds_max_bytes(self, password: str) -> bool:
        """Tell whether ``password`` is over the byte cap, without normalising or hashing it.

        Cheap by design: the login route calls it before any database or hashing work.
        """
        # A str never has fewer UTF-8 bytes than code points, so the first test is exact and
        # spares encoding a huge string.
        return len(password) > self.max_bytes or len(password.encode("utf-8", "surrogatepass")) > self.max_bytes

    def check(self, password: str, *, email: str | None = None) -> None:
        """Check ``password`` against every rule.

        Args:
            password: The password exactly as the client sent it.
            email: The account's e-mail address, for the context check.

        Raises:
            InvalidPasswordException: With a plain-sentence ``reason`` saying what to change.
        """
        if self.exceeds_max_bytes(password):
            raise InvalidPasswordException(reason=f"The password must be at most {self.max_bytes} bytes long.")
        if not _is_encodable(password):
            raise InvalidPasswordException(reason="The password contains characters that are not valid Unicode.")
        normalized = normalize_password(password)
        if len(normalized) < self.min_length:
            raise InvalidPasswordException(reason=f"The password must be at least {self.min_length} characters long.")
        folded = normalized.casefold()
        if self.check_common and folded.strip() in load_common_passwords():
            raise InvalidPasswordException(
                reason="The password is one of the most commonly used passwords. Please choose a less common one."
            )
        if self.check_email and email and self._contains(folded, email.partition("@")[0]):
            raise InvalidPasswordException(reason="The password must not contain your e-mail address.")
        if any(self._contains(folded, word) for word in self.context_words):
            raise InvalidPasswordException(reason="The password must not contain the name of this service.")

    def _contains(self, folded_password: str, word: str) -> bool:
        folded_word = normalize_password(word).casefold()
        return len(folded_word) >= self.min_context_length and folded_word in folded_password


DEFAULT_PASSWORD_POLICY = PasswordPolicy()
"""The policy :class:`~fastapi_userkit.manager.BaseUserManager` applies unless told otherwise."""


def _is_encodable(password: str) -> bool:
    # JSON can carry lone surrogates ("\\ud800"), which Python decodes into a str that no
    # UTF-8 encoder (the hasher's included) accepts: refuse them as a 400, never a 500.
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
