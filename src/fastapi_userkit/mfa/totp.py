"""TOTP (RFC 6238): secrets, ``otpauth://`` URIs, QR codes and code matching by time step.

The parameters are the ones every authenticator app supports: SHA-1, 6 digits, 30-second steps
(RFC 6238 section 4; Google Authenticator ignores any other). The code arithmetic is
``pyotp``'s (HOTP of RFC 4226 over the step counter); this module adds what ``pyotp.TOTP.verify``
does not give: *which* step matched, so the store can refuse a step at or before the last one it
accepted (RFC 6238 section 5.2: "the verifier MUST NOT accept the second attempt of the OTP after
the successful validation has been issued for the first OTP").
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

__all__ = [
    "DIGITS",
    "SECRET_BYTES",
    "STEP_SECONDS",
    "matching_steps",
    "new_secret",
    "normalise_code",
    "provisioning_uri",
    "qr_svg",
    "time_step",
]

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20
"""160 bits: the HMAC-SHA-1 block-size recommendation of RFC 4226 section 4 (R6) and ASVS 5.0 6.5.5."""


def new_secret() -> str:
    """A fresh TOTP secret: 160 bits from the operating system's CSPRNG, as unpadded base32 (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def provisioning_uri(secret: str, *, account_name: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (Key URI Format of Google Authenticator)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline SVG element, made locally (no external service sees the secret).

    Error correction level M and a scale of 4 keep a 32-character secret's URI readable by phone
    cameras from a screen; the SVG has no XML declaration, so it can be placed in an HTML page.
    """
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="TOTP QR code"))


def time_step(now: datetime) -> int:
    """The RFC 6238 counter ``T`` for ``now`` (seconds since the Unix epoch, floor-divided by 30).

    Raises:
        ValueError: ``now`` is a naive datetime (its instant would depend on the machine's zone).
    """
    if now.tzinfo is None:
        raise ValueError("time_step needs a timezone-aware datetime")
    return int(now.timestamp()) // STEP_SECONDS


def normalise_code(code: str) -> str | None:
    """The digits of a TOTP code as typed (spaces ignored), or ``None`` if it cannot be one."""
    digits = "".join(code.split())
    if len(digits) != DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    return digits


def matching_steps(secret: str, code: str, *, now: datetime, window: int = 1) -> list[int]:
    """The time steps within ``window`` steps of ``now`` whose code is ``code``, oldest first.

    Every step of the window is computed and compared in constant time, whether or not an
    earlier one matched, so the time taken does not tell which step (if any) matched. Usually
    zero or one step matches; two only when two steps' codes collide (1 in 10**6).

    Args:
        secret: The base32 TOTP secret.
        code: The code as typed; see :func:`normalise_code`.
        now: The verifier's clock (timezone-aware).
        window: Steps accepted either side of the current one, for clock drift and typing time
            (RFC 6238 section 5.2 recommends at most one).
    """
    digits = normalise_code(code)
    current = time_step(now)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    # Every step is compared, matched or not; a malformed code is compared as "" (never equal),
    # so it costs the same time as a wrong one.
    return [
        step
        for step in range(current - window, current + window + 1)
        if hmac.compare_digest(digits or "", totp.generate_otp(step))
    ]
