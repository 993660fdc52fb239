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
    "EMAIL_CHANGE_CONFIRM_PATH",
    "EMAIL_CHANGE_REVERT_PATH",
    "EMAIL_SIGN_IN_PATH",
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

EMAIL_SIGN_IN_PATH = "/email-login/verify"
"""Where the account pages open a sign-in link, below their prefix (``pages_url``)."""

EMAIL_CHANGE_CONFIRM_PATH = "/email/confirm"
"""Where the account pages open the confirmation link sent to the new address, below their prefix."""

EMAIL_CHANGE_REVERT_PATH = "/email/revert"
"""Where the account pages open the "this was not me" link sent to the old address, below their prefix."""


def _page_url(name: str, given: str, pages_url: str | None, path: str) -> str:
    """``given``, or the account page at ``path`` below ``pages_url`` with the token in its query.

    Raises:
        ConfigurationError: Neither is set, or the URL is not an absolute http(s) URL with one ``{token}``.
    """
    if not given:
        if pages_url is None:
            raise ConfigurationError(f"{name} or pages_url must be given.")
        if "{" in pages_url or "}" in pages_url:
            raise ConfigurationError("pages_url must not contain braces.")
        given = f"{pages_url.rstrip('/')}{path}?token={{token}}"
    check_url_template(name, given)
    return given


@dataclass(frozen=True)
class EmailSignInSettings:
    """Sign-in by e-mail: a link and a short code in one e-mail, either of them signs in once.

    Off by default: ``enabled=True`` turns it on.

    Raises:
        ConfigurationError: A secret shorter than 32 bytes, neither ``link_url`` nor ``pages_url``,
            a ``link_url`` that is not an absolute http(s) URL with one ``{token}``, a code length
            outside 6..8, a lifetime that is not positive or is longer than 10 minutes, or attempts
            outside 1..5.
    """

    secret: Secrets = field(repr=False)
    """Keys the digests of links and codes (at least 32 bytes; a list rotates: the first digests)."""

    link_url: str = ""
    """The page (or app route) the link opens, with ``{token}`` where the link secret goes, e.g.
    ``https://app.example.com/email-login?token={token}``. The page must ``POST`` the token: a GET
    must not use it, since mail scanners follow links (T35). Empty: the account pages' page,
    :data:`EMAIL_SIGN_IN_PATH` below :attr:`pages_url`."""

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

    pages_url: str | None = None
    """The account pages' absolute URL (``https://app.example.com/account``): the default of :attr:`link_url`."""

    digester: Digester = field(init=False, repr=False, compare=False)
    """The keyed digests built from :attr:`secret`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "link_url", _page_url("link_url", self.link_url, self.pages_url, EMAIL_SIGN_IN_PATH))
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
        ConfigurationError: A secret shorter than 32 bytes, a link URL missing with no ``pages_url``,
            a URL that is not an absolute http(s) URL with one ``{token}``, a lifetime that is not
            positive, or a revert window shorter than the confirmation's.
    """

    secret: Secrets = field(repr=False)
    """Keys the digests of the links (at least 32 bytes; a list rotates: the first digests)."""

    confirm_url: str = ""
    """The page the link sent to the new address opens, with ``{token}``; it must ``POST`` (T35).
    Empty: the account pages' page, :data:`EMAIL_CHANGE_CONFIRM_PATH` below :attr:`pages_url`."""

    revert_url: str = ""
    """The page the "this was not me" link sent to the old address opens, with ``{token}``; it must
    ``POST`` too. Empty: :data:`EMAIL_CHANGE_REVERT_PATH` below :attr:`pages_url`."""

    confirm_lifetime: timedelta = timedelta(hours=1)
    """How long the new address can confirm."""

    revert_lifetime: timedelta = timedelta(days=7)
    """How long the old address can revert the change (days: the owner may read mail late)."""

    pages_url: str | None = None
    """The account pages' absolute URL (``https://app.example.com/account``): the default of both links."""

    digester: Digester = field(init=False, repr=False, compare=False)
    """The keyed digests built from :attr:`secret`."""

    def __post_init__(self) -> None:
        confirm_url = _page_url("confirm_url", self.confirm_url, self.pages_url, EMAIL_CHANGE_CONFIRM_PATH)
        object.__setattr__(self, "confirm_url", confirm_url)
        revert_url = _page_url("revert_url", self.revert_url, self.pages_url, EMAIL_CHANGE_REVERT_PATH)
        object.__setattr__(self, "revert_url", revert_url)
        if self.confirm_lifetime <= timedelta(0):
            raise ConfigurationError("confirm_lifetime must be positive.")
        if self.revert_lifetime < self.confirm_lifetime:
            raise ConfigurationError("revert_lifetime must be at least confirm_lifetime.")
        object.__setattr__(self, "digester", Digester(self.secret))
