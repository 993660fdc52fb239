"""A software WebAuthn authenticator for tests: real ES256 keys, real CBOR, real signatures.

It answers the JSON options of ``PasskeyService`` the way a browser and a platform authenticator
together answer ``navigator.credentials.create()`` and ``.get()`` (``PublicKeyCredential.toJSON()``
shape), with knobs to misbehave: another origin, another RP id, no user verification, a chosen
counter, a non-discoverable credential. Attestation is the ``none`` format.

Test code, written from WebAuthn L3 sections 6.1 (authenticator data), 6.5.1 (attested credential
data), 5.8.1 (client data) and RFC 9053 (COSE EC2 keys).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40


def b64u(data: bytes) -> str:
    """base64url without padding, as WebAuthn JSON carries bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    """Bytes of a base64url text without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftCredential:
    """A key pair the authenticator holds for one RP and user."""

    credential_id: bytes
    rp_id: str
    user_handle: bytes
    private_key: ec.EllipticCurvePrivateKey
    resident: bool
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        """The public key as a COSE_Key (kty EC2, alg ES256, crv P-256; RFC 9053 section 7.1.1)."""
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})


@dataclass
class SoftAuthenticator:
    """An authenticator and the browser around it.

    Attributes:
        origin: The origin the "browser" puts in ``clientDataJSON``.
        user_present: Whether it reports a user gesture (UP flag).
        user_verification: Whether it verifies the user (UV flag).
        counter_step: How much the signature counter rises per use (0: an authenticator without one).
        backup_eligible: Whether its credentials are synced passkeys (BE flag).
        backed_up: Whether they are backed up now (BS flag).
        aaguid: The authenticator model's id.
    """

    origin: str
    user_present: bool = True
    user_verification: bool = True
    counter_step: int = 1
    backup_eligible: bool = False
    backed_up: bool = False
    aaguid: bytes = field(default_factory=lambda: bytes(range(16)))
    credentials: dict[bytes, SoftCredential] = field(default_factory=dict)

    def clone(self) -> SoftAuthenticator:
        """A copy holding the same private keys and counters (what a key extraction gives an attacker)."""
        return copy.deepcopy(self)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        payload = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(payload, separators=(",", ":")).encode()

    def _flags(self, *, uv: bool | None, attested: bool) -> int:
        flags = FLAG_UP if self.user_present else 0
        if self.user_verification if uv is None else uv:
            flags |= FLAG_UV
        if self.backup_eligible:
            flags |= FLAG_BE
        if self.backed_up:
            flags |= FLAG_BS
        if attested:
            flags |= FLAG_AT
        return flags

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool | None = None,
        resident: bool = True,
        credential_id: bytes | None = None,
    ) -> dict[str, Any]:
        """Make a credential for ``options`` (``PublicKeyCredentialCreationOptionsJSON``); return its JSON.

        ``credential_id`` forces the id (to register one credential twice); ``rp_id`` signs for
        another relying party than the options name.
        """
        scope = rp_id or options["rp"]["id"]
        raw_id = credential_id or secrets.token_bytes(32)
        credential = SoftCredential(
            credential_id=raw_id,
            rp_id=scope,
            user_handle=unb64u(options["user"]["id"]),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            resident=resident,
        )
        self.credentials[raw_id] = credential
        attested = self.aaguid + len(raw_id).to_bytes(2, "big") + raw_id + credential.cose_public_key()
        auth_data = (
            hashlib.sha256(scope.encode()).digest()
            + bytes([self._flags(uv=uv, attested=True)])
            + credential.sign_count.to_bytes(4, "big")
            + attested
        )
        attestation_object = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64u(raw_id),
            "rawId": b64u(raw_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(attestation_object),
                "transports": ["internal", "hybrid"],
            },
        }

    def _pick(self, options: dict[str, Any], rp_id: str) -> SoftCredential:
        allowed = [unb64u(item["id"]) for item in options.get("allowCredentials", [])]
        if allowed:
            for raw_id in allowed:
                if raw_id in self.credentials:
                    return self.credentials[raw_id]
            raise LookupError("no allowed credential here")
        for credential in self.credentials.values():
            if credential.resident and credential.rp_id == rp_id:
                return credential
        raise LookupError("no discoverable credential for this RP")

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool | None = None,
        sign_count: int | None = None,
        credential_id: bytes | None = None,
        user_handle: bytes | None = None,
    ) -> dict[str, Any]:
        """Sign an assertion for ``options`` (``PublicKeyCredentialRequestOptionsJSON``); return its JSON.

        The counter rises by ``counter_step`` unless ``sign_count`` sets it. ``credential_id``
        picks the credential; ``user_handle`` overrides the handle sent back.
        """
        scope = rp_id or options["rpId"]
        credential = self.credentials[credential_id] if credential_id else self._pick(options, options["rpId"])
        credential.sign_count = credential.sign_count + self.counter_step if sign_count is None else sign_count
        auth_data = (
            hashlib.sha256(scope.encode()).digest()
            + bytes([self._flags(uv=uv, attested=False)])
            + credential.sign_count.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = user_handle if user_handle is not None else credential.user_handle
        return {
            "id": b64u(credential.credential_id),
            "rawId": b64u(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                # A discoverable credential returns its user handle (WebAuthn L3 6.3.3 step 9).
                "userHandle": b64u(handle) if credential.resident or user_handle is not None else None,
            },
        }
