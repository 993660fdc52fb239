"""Reading and checking WebAuthn responses with py_webauthn, each failure as a typed passkey error.

py_webauthn parses and verifies (CBOR, COSE keys, attestation statements, signatures); this
module only decides which error a client gets. The library raises one exception type per
ceremony whatever went wrong, so the checks that deserve their own code (origin, RP id, user
verification) are made here first, on structures parsed by the library's own helpers, before
the full verification runs (and makes them again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorData,
    ClientDataType,
    CollectedClientData,
    RegistrationCredential,
)

from fastapi_userkit.passkeys.exceptions import (
    InvalidPasskeyPayload,
    PasskeyOriginMismatch,
    PasskeyRPIDMismatch,
    PasskeyUserNotVerified,
)
from fastapi_userkit.passkeys.settings import PasskeySettings

__all__ = [
    "MALFORMED",
    "CredentialJSON",
    "authenticator_data",
    "check_authenticator_data",
    "client_data",
    "from_base64url",
    "parse_assertion",
    "parse_attestation",
    "registration_authenticator_data",
]

CredentialJSON = Mapping[str, Any] | str
"""A ``PublicKeyCredential`` as the browser's ``toJSON()`` gives it (base64url fields), or its text."""

# What the library's parsers let escape on hostile input besides their own exceptions: bad
# base64 (binascii.Error is a ValueError), bad UTF-8, wrong JSON types, deeply nested JSON.
MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, RecursionError)

# WebAuthn L3 5.8.3: a credential id longer than this is not one (and would not fit its column).
_MAX_CREDENTIAL_ID_BYTES = 1023


def from_base64url(text: str) -> bytes:
    """Bytes of a base64url text (padding optional), with py_webauthn's decoder."""
    return base64url_to_bytes(text)


def _as_json(credential: object) -> dict[str, Any] | str:
    if isinstance(credential, str):
        return credential
    if isinstance(credential, Mapping):
        return dict(credential)
    raise InvalidPasskeyPayload("The passkey response must be a JSON object.")


def _check_id(text: str, raw: bytes) -> None:
    # base64url decoding skips characters outside the alphabet, so "***" would read as an empty
    # id: the id must be the exact encoding of rawId (WebAuthn L3 5.1: id is rawId, base64url).
    if not raw or bytes_to_base64url(raw) != text:
        raise InvalidPasskeyPayload("The credential's id is not the base64url form of its rawId.")
    if len(raw) > _MAX_CREDENTIAL_ID_BYTES:
        raise InvalidPasskeyPayload("The credential id is longer than 1023 bytes.")


def parse_attestation(credential: object) -> RegistrationCredential:
    """Parse a registration response.

    Raises:
        InvalidPasskeyPayload: It is not a registration credential.
    """
    try:
        parsed = parse_registration_credential_json(_as_json(credential))
    except MALFORMED as exc:
        raise InvalidPasskeyPayload from exc
    _check_id(parsed.id, parsed.raw_id)
    return parsed


def parse_assertion(credential: object) -> AuthenticationCredential:
    """Parse an authentication response.

    Raises:
        InvalidPasskeyPayload: It is not an authentication credential.
    """
    try:
        parsed = parse_authentication_credential_json(_as_json(credential))
    except MALFORMED as exc:
        raise InvalidPasskeyPayload from exc
    _check_id(parsed.id, parsed.raw_id)
    return parsed


def client_data(raw: bytes, expected: ClientDataType, settings: PasskeySettings) -> CollectedClientData:
    """Parse ``clientDataJSON`` and check its type and origin (WebAuthn L3 7.1 steps 7 and 9).

    Raises:
        InvalidPasskeyPayload: It does not parse, or it is another ceremony's.
        PasskeyOriginMismatch: Its origin is not one of the settings' origins.
    """
    try:
        data = parse_client_data_json(raw)
    except MALFORMED as exc:
        raise InvalidPasskeyPayload from exc
    if data.type != expected:
        raise InvalidPasskeyPayload(f"clientDataJSON is not of type {expected.value}.")
    if data.origin not in settings.origins:
        # The one check that stops a phishing site relaying the ceremony (T44).
        raise PasskeyOriginMismatch
    return data


def registration_authenticator_data(credential: RegistrationCredential) -> AuthenticatorData:
    """The authenticator data inside the attestation object.

    Raises:
        InvalidPasskeyPayload: The attestation object does not parse.
    """
    try:
        return parse_attestation_object(credential.response.attestation_object).auth_data
    except MALFORMED as exc:
        raise InvalidPasskeyPayload from exc


def authenticator_data(credential: AuthenticationCredential) -> AuthenticatorData:
    """The authenticator data of an assertion.

    Raises:
        InvalidPasskeyPayload: It does not parse.
    """
    try:
        return parse_authenticator_data(credential.response.authenticator_data)
    except MALFORMED as exc:
        raise InvalidPasskeyPayload from exc


def check_authenticator_data(data: AuthenticatorData, settings: PasskeySettings) -> None:
    """Check the RP id hash and the user flags (WebAuthn L3 7.1 steps 13 to 16, 7.2 steps 15 to 17).

    Raises:
        PasskeyRPIDMismatch: The authenticator signed for another RP id.
        InvalidPasskeyPayload: The user-present flag is missing.
        PasskeyUserNotVerified: Verification is required and the UV flag is missing.
    """
    if data.rp_id_hash != hashlib.sha256(settings.rp_id.encode("utf-8")).digest():
        raise PasskeyRPIDMismatch
    if not data.flags.up:
        raise InvalidPasskeyPayload("The authenticator did not report the user present.")
    if settings.require_user_verification and not data.flags.uv:
        raise PasskeyUserNotVerified
