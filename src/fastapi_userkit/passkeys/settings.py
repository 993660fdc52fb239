"""The relying party's WebAuthn settings, checked once at construction.

WebAuthn binds every credential to a relying-party id (a domain) and every ceremony to the origin
the browser ran it on. Both are configuration, and both are wrong silently if mistyped: a browser
refuses an RP id that is not a suffix of its origin's host, and a server that accepts any origin
accepts phishing pages. So :class:`PasskeySettings` refuses, when it is built, an RP id that is
not a bare domain, an origin that is not a plain ``https://`` origin (``http://`` only for
localhost, which browsers treat as a secure context) and an origin outside the RP id.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from fastapi_userkit.exceptions import ConfigurationError

__all__ = ["MAX_CHALLENGE_LIFETIME", "PasskeySettings"]

MAX_CHALLENGE_LIFETIME = timedelta(minutes=5)
"""The longest a challenge may live (T44)."""

UserVerification = Literal["required", "preferred", "discouraged"]
ResidentKey = Literal["required", "preferred", "discouraged"]
Attestation = Literal["none", "indirect", "direct"]

# COSE algorithm ids (RFC 9053): EdDSA, ES256, RS256, the set WebAuthn L3 5.4.3 recommends.
_DEFAULT_ALGORITHMS = (-8, -7, -257)
_LOCAL_HOSTS = ("localhost",)


def _is_local(host: str) -> bool:
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


def _check_rp_id(rp_id: str) -> None:
    if not rp_id or rp_id != rp_id.strip().lower() or any(char in rp_id for char in "/:@ "):
        raise ConfigurationError(f"PasskeySettings.rp_id must be a lowercase domain without scheme or port: {rp_id!r}.")
    try:
        ipaddress.ip_address(rp_id)
    except ValueError:
        return
    # WebAuthn L3 5.1.3: an RP id is a valid domain string; browsers refuse IP addresses.
    raise ConfigurationError("PasskeySettings.rp_id cannot be an IP address; use a domain (or localhost).")


def _check_origin(origin: str, rp_id: str) -> None:
    parts = urlsplit(origin)
    host = parts.hostname or ""
    if (
        parts.scheme not in {"https", "http"}
        or not host
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
        or origin != origin.lower()
    ):
        raise ConfigurationError(
            f"PasskeySettings.origins holds {origin!r}: give plain lowercase origins such as 'https://example.com'."
        )
    if parts.scheme == "http" and not _is_local(host):
        raise ConfigurationError(f"PasskeySettings.origins holds {origin!r}: WebAuthn needs https outside localhost.")
    if host != rp_id and not host.endswith("." + rp_id):
        # WebAuthn L3 5.1.3: the RP id must be the origin's host or a registrable suffix of it.
        raise ConfigurationError(f"PasskeySettings.origins holds {origin!r}, whose host is outside rp_id {rp_id!r}.")


@dataclass(frozen=True)
class PasskeySettings:
    """How this relying party runs WebAuthn ceremonies.

    Example::

        PasskeySettings(rp_id="example.com", rp_name="Example", origins=("https://example.com",))

    Raises:
        ConfigurationError: An RP id that is not a domain, an empty RP name, no origin, an origin
            outside the RP id or not ``https`` (except localhost), a challenge lifetime not in
            (0, 5 min], a browser timeout longer than the challenge lifetime, or no algorithm.
    """

    rp_id: str
    """The relying party id: the site's domain (``example.com``), shared by its subdomains' origins."""

    rp_name: str
    """The name authenticators show when a passkey is created."""

    origins: Sequence[str]
    """Every origin the ceremonies may run on (``https://example.com``, ``https://app.example.com``);
    stored as a tuple."""

    user_verification: UserVerification = "required"
    """Whether the authenticator must verify the user (PIN, biometrics). ``required`` makes every
    passkey sign-in multi-factor by itself (NIST SP 800-63B AAL2)."""

    resident_key: ResidentKey = "preferred"
    """Whether registration asks for a discoverable credential; passwordless registration always
    asks ``required``."""

    attestation: Attestation = "none"
    """The attestation conveyance asked for. ``none`` gives users privacy and needs no vendor roots."""

    challenge_lifetime: timedelta = MAX_CHALLENGE_LIFETIME
    """How long an issued challenge can be answered (at most 5 minutes, T44)."""

    timeout: timedelta = MAX_CHALLENGE_LIFETIME
    """The hint given to the browser for the ceremony; at most the challenge lifetime."""

    algorithms: Sequence[int] = field(default=_DEFAULT_ALGORITHMS)
    """COSE algorithm ids accepted for new credentials, in order of preference; stored as a tuple."""

    def __post_init__(self) -> None:
        _check_rp_id(self.rp_id)
        if not self.rp_name.strip():
            raise ConfigurationError("PasskeySettings.rp_name cannot be empty.")
        if isinstance(self.origins, str):
            raise ConfigurationError("PasskeySettings.origins is a sequence of origins, not one string.")
        origins = tuple(self.origins)
        if not origins:
            raise ConfigurationError("PasskeySettings.origins needs at least one origin.")
        for origin in origins:
            _check_origin(origin, self.rp_id)
        if not timedelta(0) < self.challenge_lifetime <= MAX_CHALLENGE_LIFETIME:
            raise ConfigurationError("PasskeySettings.challenge_lifetime must be positive and at most 5 minutes (T44).")
        if not timedelta(0) < self.timeout <= self.challenge_lifetime:
            raise ConfigurationError("PasskeySettings.timeout must be positive and at most the challenge lifetime.")
        algorithms = tuple(self.algorithms)
        if not algorithms:
            raise ConfigurationError("PasskeySettings.algorithms cannot be empty.")
        if self.user_verification not in {"required", "preferred", "discouraged"}:
            raise ConfigurationError(f"PasskeySettings.user_verification cannot be {self.user_verification!r}.")
        if self.resident_key not in {"required", "preferred", "discouraged"}:
            raise ConfigurationError(f"PasskeySettings.resident_key cannot be {self.resident_key!r}.")
        if self.attestation not in {"none", "indirect", "direct"}:
            raise ConfigurationError(f"PasskeySettings.attestation cannot be {self.attestation!r}.")
        object.__setattr__(self, "origins", origins)
        object.__setattr__(self, "algorithms", algorithms)

    @property
    def require_user_verification(self) -> bool:
        """Whether a response without the UV flag is refused."""
        return self.user_verification == "required"

    @property
    def timeout_ms(self) -> int:
        """The browser timeout in milliseconds, as WebAuthn options carry it."""
        return int(self.timeout.total_seconds() * 1000)
