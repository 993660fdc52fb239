"""Settings of e-mail sign-in and of the confirmed e-mail change, checked when they are built."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import SecretStr

from fastapi_userkit.email_auth.tokens import Digester
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mail.account import _check_url_template as check_url_template

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_CODE_LENGTH",
    "MAX_LIFETIME",
    "MIN_CODE_LENGTH",
    "EmailChangeSettings",
    "EmailSignInSettings",
]

MIN_CODE_LENGTH = 6
MAX_CODE_LENGTH = 8
MAX_LIFETIME = timedelta(minutes=10)
"""ASVS 5.0 6.6.x / T37: e-mailed codes live at most ten minutes."""
MAX_ATTEMPTS = 5
"""Wrong codes one e-mail accepts at most (NIST SP 800-63B 5.1.3.2: a retry limit for short secrets)."""

Secrets = str | SecretStr | Sequence[str | SecretStr]


@dataclass(frozen=True)
class EmailSignInSettings:
    """Sign-in by e-mail: a link and a short code in one e-mail, either of them signs in once.

    Off by default: ``enabled=True`` turns it on.

    Raises:
        ConfigurationError: A secret shorter than 32 bytes, a ``link_url`` that is not an absolute
            http(s) URL with one ``{token}``, a code length outside 6..8, a lifetime that is not
            positive or is longer than 10 minutes, or attempts outside 1..5.
    """

    secret: Secrets = field(repr=False)
    """Keys the digests of links and codes (at least 32 bytes; a list rotates: the first digests)."""

    link_url: str
    """The page (or app route) the link opens, with ``{token}`` where the link secret goes, e.g.
    ``https://app.example.com/email-login?token={token}``. The page must ``POST`` the token: a GET
    must not use it, since mail scanners follow links (T35)."""

    enabled: bool = False
    """Whether sign-in by e-mail is offered at all."""

    allow_sign_up: bool = False
    """Whether an unknown address gets an e-mail too, and becomes an account when it is used."""

    code_length: int = MIN_CODE_LENGTH
    """Symbols per code (6..8)."""

    lifetime: timedelta = MAX_LIFETIME
    """How long the link and the code work (at most 10 minutes)."""

    max_attempts: int = MAX_ATTEMPTS
    """Codes, right or wrong, one e-mail accepts (1..5)."""

    digester: Digester = field(init=False, repr=False, compare=False)
    """The keyed digests built from :attr:`secret`."""

    def __post_init__(self) -> None:
        check_url_template("link_url", self.link_url)
        if not MIN_CODE_LENGTH <= self.code_length <= MAX_CODE_LENGTH:
            raise ConfigurationError(f"code_length must be between {MIN_CODE_LENGTH} and {MAX_CODE_LENGTH}.")
        if not timedelta(0) < self.lifetime <= MAX_LIFETIME:
            raise ConfigurationError("lifetime must be positive and at most 10 minutes.")
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS:
            raise ConfigurationError(f"max_attempts must be between 1 and {MAX_ATTEMPTS}.")
        object.__setattr__(self, "digester", Digester(self.secret))


@dataclass(frozen=True)
class EmailChangeSettings:
    """The confirmed e-mail change (T40): the new address confirms, the old one can revert.

    Raises:
        ConfigurationError: A secret shorter than 32 bytes, a URL that is not an absolute http(s)
            URL with one ``{token}``, a lifetime that is not positive, or a revert window shorter
            than the confirmation's.
    """

    secret: Secrets = field(repr=False)
    """Keys the digests of the links (at least 32 bytes; a list rotates: the first digests)."""

    confirm_url: str
    """The page the link sent to the new address opens, with ``{token}``; it must ``POST`` (T35)."""

    revert_url: str
    """The page the "this was not me" link sent to the old address opens, with ``{token}``."""

    confirm_lifetime: timedelta = timedelta(hours=1)
    """How long the new address can confirm."""

    revert_lifetime: timedelta = timedelta(days=7)
    """How long the old address can revert the change (days: the owner may read mail late)."""

    digester: Digester = field(init=False, repr=False, compare=False)
    """The keyed digests built from :attr:`secret`."""

    def __post_init__(self) -> None:
        check_url_template("confirm_url", self.confirm_url)
        check_url_template("revert_url", self.revert_url)
        if self.confirm_lifetime <= timedelta(0):
            raise ConfigurationError("confirm_lifetime must be positive.")
        if self.revert_lifetime < self.confirm_lifetime:
            raise ConfigurationError("revert_lifetime must be at least confirm_lifetime.")
        object.__setattr__(self, "digester", Digester(self.secret))
