"""The passkey service: WebAuthn registration and authentication ceremonies, and passkey management.

A ceremony is two calls. The *options* call makes a 256-bit challenge, stores its digest with
what it is for (registration or authentication, and for which user) and returns the options the
browser hands to ``navigator.credentials.create()`` or ``.get()``. The *verify* call reads the
challenge back out of the signed ``clientDataJSON``, takes it from the store (single use, at most
5 minutes: T44), checks origin, RP id and flags, lets py_webauthn verify the rest, and stores the
outcome with a conditional write.

It knows nothing of HTTP, tokens or sessions: it raises the typed errors of
:mod:`fastapi_userkit.passkeys.exceptions` and the caller maps them. Whether the sign-in counts as
multi-factor (AAL2) is said by :attr:`PasskeySignIn.user_verified`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url, options_to_json_dict
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    ClientDataType,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from fastapi_userkit.db._types import now_utc
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.passkeys import _ceremony
from fastapi_userkit.passkeys.exceptions import (
    PasskeyAlreadyRegistered,
    PasskeyChallengeInvalid,
    PasskeyCounterRegression,
    PasskeyInvalidName,
    PasskeyLastLoginMethod,
    PasskeyVerificationFailed,
    UnknownPasskey,
)
from fastapi_userkit.passkeys.models import (
    Clock,
    EventSink,
    PasskeyEvent,
    PasskeyEventType,
    PasskeySignIn,
    PasskeySignUp,
    UserHandle,
    default_user_handle,
)
from fastapi_userkit.passkeys.settings import PasskeySettings
from fastapi_userkit.passkeys.store import (
    ChallengePurpose,
    ChallengeRecord,
    PasskeyChallengeStore,
    PasskeyCredential,
    PasskeyCredentialStore,
    challenge_digest,
)
from fastapi_userkit.passkeys.tables import NAME_MAX_LENGTH

__all__ = ["PasskeyService"]

_CHALLENGE_BYTES = 32  # 256 bits; T44 asks for at least 64
_DEFAULT_NAME = "Passkey"


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > NAME_MAX_LENGTH or not cleaned.isprintable():
        raise PasskeyInvalidName
    return cleaned


class PasskeyService:
    """Runs WebAuthn ceremonies and manages a user's passkeys.

    Args:
        settings: The relying party's settings.
        credentials: Where passkeys live (per request, like the user database).
        challenges: Where issued challenges wait (SQL or Redis).
        clock: The current time; inject one in tests.
        user_handle: The user handle of a user id (:func:`default_user_handle`).
        on_event: Called with each :class:`PasskeyEvent` (a registration, a rename, a deletion, a
            counter regression) after the change is stored.

    Raises:
        ConfigurationError: The settings name a COSE algorithm py_webauthn does not know.
    """

    def __init__(
        self,
        settings: PasskeySettings,
        credentials: PasskeyCredentialStore,
        challenges: PasskeyChallengeStore,
        *,
        clock: Clock = now_utc,
        user_handle: UserHandle = default_user_handle,
        on_event: EventSink | None = None,
    ) -> None:
        try:
            self._algorithms = [COSEAlgorithmIdentifier(alg) for alg in settings.algorithms]
        except ValueError as exc:
            raise ConfigurationError(f"PasskeySettings.algorithms holds an unknown COSE id: {exc}") from exc
        self.settings = settings
        self.credentials = credentials
        self.challenges = challenges
        self.clock = clock
        self.user_handle = user_handle
        self.on_event = on_event

    async def _issue(self, purpose: ChallengePurpose, user_id: Any, payload: str | None = None) -> bytes:
        challenge = secrets.token_bytes(_CHALLENGE_BYTES)
        now = self.clock()
        record = ChallengeRecord(
            purpose=purpose,
            user_key=None if user_id is None else str(user_id),
            expires_at=now + self.settings.challenge_lifetime,
            payload=payload,
        )
        await self.challenges.put(challenge_digest(challenge), record, now=now)
        return challenge

    async def _take(self, challenge: bytes, purpose: ChallengePurpose) -> ChallengeRecord:
        # Taken before anything else is checked: an answer burns its challenge even if it fails.
        record = await self.challenges.take(challenge_digest(challenge))
        if record is None or record.purpose != purpose or self.clock() >= record.expires_at:
            raise PasskeyChallengeInvalid
        return record

    async def _redeem(
        self, challenge: bytes, purpose: ChallengePurpose, user_id: Any, bound_to: str | None = None
    ) -> None:
        record = await self._take(challenge, purpose)
        if record.user_key != (None if user_id is None else str(user_id)) or record.payload != bound_to:
            raise PasskeyChallengeInvalid

    async def _emit(self, event: PasskeyEvent) -> None:
        if self.on_event is not None:
            await self.on_event(event)

    @staticmethod
    def _descriptor(credential: PasskeyCredential) -> PublicKeyCredentialDescriptor:
        known = {transport.value for transport in AuthenticatorTransport}
        return PublicKeyCredentialDescriptor(
            id=_ceremony.from_base64url(credential.credential_id),
            transports=[AuthenticatorTransport(value) for value in credential.transports if value in known],
        )

    async def registration_options(
        self, user_id: Any, *, user_name: str, display_name: str | None = None, passwordless: bool = False
    ) -> dict[str, Any]:
        """Options for ``navigator.credentials.create()`` (JSON-ready), with a new challenge.

        The user's passkeys are listed in ``excludeCredentials``, so an authenticator that holds
        one already declines instead of making a second (WebAuthn L3 5.4). A ``passwordless``
        registration requires a discoverable credential: it is the account's only way in, and a
        sign-in without a typed name must be able to find it.
        """
        existing = await self.credentials.list_for_user(user_id)
        challenge = await self._issue("registration", user_id)
        return self._creation_options(challenge, user_id, user_name, display_name, existing, passwordless)

    def _creation_options(
        self,
        challenge: bytes,
        user_id: Any,
        user_name: str,
        display_name: str | None,
        existing: list[PasskeyCredential],
        passwordless: bool,
    ) -> dict[str, Any]:
        resident_key = "required" if passwordless else self.settings.resident_key
        options = generate_registration_options(
            rp_id=self.settings.rp_id,
            rp_name=self.settings.rp_name,
            user_name=user_name,
            user_id=self.user_handle(user_id),
            user_display_name=display_name or user_name,
            challenge=challenge,
            timeout=self.settings.timeout_ms,
            attestation=AttestationConveyancePreference(self.settings.attestation),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement(resident_key),
                require_resident_key=resident_key == "required",
                user_verification=UserVerificationRequirement(self.settings.user_verification),
            ),
            exclude_credentials=[self._descriptor(credential) for credential in existing],
            supported_pub_key_algs=self._algorithms,
        )
        return options_to_json_dict(options)

    async def signup_options(self, fields: str, *, user_name: str, display_name: str | None = None) -> dict[str, Any]:
        """Options for ``navigator.credentials.create()`` of a passwordless sign-up, with a new challenge.

        The new account's id (a UUID, the WebAuthn user handle the authenticator keeps) is chosen
        now, and ``fields`` (the account's fields, as JSON text) are kept with the challenge,
        server side, until :meth:`verify_signup` takes them: single use, at most the challenge
        lifetime, never read back from the client. The credential must be discoverable.

        Args:
            fields: The validated account fields to create the user with, as JSON text.
            user_name: The name authenticators show (the e-mail address).
            display_name: A friendlier name, if any.
        """
        user_id = uuid.uuid4()
        challenge = await self._issue("signup", user_id, payload=fields)
        return self._creation_options(challenge, user_id, user_name, display_name, [], passwordless=True)

    async def verify_signup(self, credential: _ceremony.CredentialJSON, *, name: str | None = None) -> PasskeySignUp:
        """Verify the browser's answer to :meth:`signup_options`; nothing is stored yet.

        The caller creates the user (with :attr:`PasskeySignUp.user_id` and the fields it
        returns), then stores the passkey with :meth:`store_signup`.

        Raises:
            InvalidPasskeyPayload: The body is not a registration credential.
            PasskeyChallengeInvalid: Its challenge is unknown, used, expired, or not a sign-up's.
            PasskeyOriginMismatch: It was made on an origin not configured.
            PasskeyRPIDMismatch: It was made for another RP id.
            PasskeyUserNotVerified: User verification is required and did not happen.
            PasskeyVerificationFailed: py_webauthn refused it (attestation, algorithm).
            PasskeyInvalidName: ``name`` is empty, too long or holds control characters.
        """
        label = _clean_name(name if name is not None else _DEFAULT_NAME)
        parsed = _ceremony.parse_attestation(credential)
        data = _ceremony.client_data(parsed.response.client_data_json, ClientDataType.WEBAUTHN_CREATE, self.settings)
        record = await self._take(data.challenge, "signup")
        user_id = uuid.UUID(str(record.user_key))
        passkey, user_verified = self._verified_registration(parsed, data.challenge, user_id, label)
        return PasskeySignUp(
            user_id=user_id, fields=record.payload or "{}", passkey=passkey, user_verified=user_verified
        )

    async def store_signup(self, signup: PasskeySignUp) -> PasskeyCredential:
        """Store the passkey of a sign-up whose user now exists.

        Raises:
            PasskeyAlreadyRegistered: The credential id is registered already.
        """
        return await self._store_new(signup.passkey)

    async def verify_registration(
        self, user_id: Any, credential: _ceremony.CredentialJSON, *, name: str | None = None
    ) -> PasskeyCredential:
        """Verify the browser's answer to :meth:`registration_options` and store the new passkey.

        Raises:
            InvalidPasskeyPayload: The body is not a registration credential.
            PasskeyChallengeInvalid: Its challenge is unknown, used, expired, or another user's.
            PasskeyOriginMismatch: It was made on an origin not configured.
            PasskeyRPIDMismatch: It was made for another RP id.
            PasskeyUserNotVerified: User verification is required and did not happen.
            PasskeyVerificationFailed: py_webauthn refused it (attestation, algorithm).
            PasskeyAlreadyRegistered: The credential id is registered already.
            PasskeyInvalidName: ``name`` is empty, too long or holds control characters.
        """
        label = _clean_name(name if name is not None else _DEFAULT_NAME)
        parsed = _ceremony.parse_attestation(credential)
        data = _ceremony.client_data(parsed.response.client_data_json, ClientDataType.WEBAUTHN_CREATE, self.settings)
        await self._redeem(data.challenge, "registration", user_id)
        passkey, _ = self._verified_registration(parsed, data.challenge, user_id, label)
        return await self._store_new(passkey)

    def _verified_registration(
        self, parsed: RegistrationCredential, challenge: bytes, user_id: Any, label: str
    ) -> tuple[PasskeyCredential, bool]:
        _ceremony.check_authenticator_data(_ceremony.registration_authenticator_data(parsed), self.settings)
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.settings.rp_id,
                expected_origin=list(self.settings.origins),
                require_user_verification=self.settings.require_user_verification,
                supported_pub_key_algs=self._algorithms,
            )
        except _ceremony.MALFORMED as exc:
            raise PasskeyVerificationFailed from exc
        transports = parsed.response.transports or []
        passkey = PasskeyCredential(
            id=uuid.uuid4(),
            user_id=user_id,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=tuple(dict.fromkeys(transport.value for transport in transports)),
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up,
            aaguid=verified.aaguid,
            name=label,
            created_at=self.clock(),
            last_used_at=None,
        )
        return passkey, verified.user_verified

    async def _store_new(self, record: PasskeyCredential) -> PasskeyCredential:
        if not await self.credentials.add(record):
            raise PasskeyAlreadyRegistered
        await self._emit(PasskeyEvent(PasskeyEventType.REGISTERED, record.user_id, record.id, record.created_at))
        return record

    async def authentication_options(self, user_id: Any = None, *, bound_to: str | None = None) -> dict[str, Any]:
        """Options for ``navigator.credentials.get()`` (JSON-ready), with a new challenge.

        With ``user_id`` (a second factor, a step-up), ``allowCredentials`` lists that user's
        passkeys and the challenge is bound to the user. Without it (usernameless sign-in), the
        list is empty so the browser offers the site's discoverable credentials. ``bound_to``
        ties the challenge to something else too (the digest of the login challenge a second
        step answers): :meth:`verify_authentication` must be given the same value.

        Raises:
            UnknownPasskey: ``user_id`` was given and the user has no passkey.
        """
        allowed: list[PublicKeyCredentialDescriptor] = []
        if user_id is not None:
            allowed = [self._descriptor(credential) for credential in await self.credentials.list_for_user(user_id)]
            if not allowed:
                raise UnknownPasskey("This user has no passkey.")
        challenge = await self._issue("authentication", user_id, payload=bound_to)
        options = generate_authentication_options(
            rp_id=self.settings.rp_id,
            challenge=challenge,
            timeout=self.settings.timeout_ms,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement(self.settings.user_verification),
        )
        return options_to_json_dict(options)

    async def verify_authentication(
        self, credential: _ceremony.CredentialJSON, *, user_id: Any = None, bound_to: str | None = None
    ) -> PasskeySignIn:
        """Verify the browser's answer to :meth:`authentication_options`; say who signed in.

        ``user_id`` and ``bound_to`` must be the ones given to :meth:`authentication_options`
        (``None`` for a usernameless sign-in, where the passkey's ``userHandle`` must name its owner).

        Raises:
            InvalidPasskeyPayload: The body is not an authentication credential.
            PasskeyChallengeInvalid: Its challenge is unknown, used, expired, another user's, or
                bound to something else.
            PasskeyOriginMismatch: It was made on an origin not configured.
            UnknownPasskey: No such passkey (deleted, never registered, or another user's).
            PasskeyRPIDMismatch: It was made for another RP id.
            PasskeyUserNotVerified: User verification is required and did not happen.
            PasskeyVerificationFailed: The signature does not verify.
            PasskeyCounterRegression: The counter did not increase (a possible clone); the
                ``on_event`` callback hears of it first.
        """
        parsed = _ceremony.parse_assertion(credential)
        data = _ceremony.client_data(parsed.response.client_data_json, ClientDataType.WEBAUTHN_GET, self.settings)
        await self._redeem(data.challenge, "authentication", user_id, bound_to)
        stored = await self.credentials.get(bytes_to_base64url(parsed.raw_id))
        handle = parsed.response.user_handle
        if (
            stored is None
            or (user_id is not None and str(stored.user_id) != str(user_id))
            # WebAuthn L3 7.2 step 6: a usernameless answer names its user, who must own the key.
            or (user_id is None and handle is None)
            or (handle is not None and handle != self.user_handle(stored.user_id))
        ):
            raise UnknownPasskey
        auth_data = _ceremony.authenticator_data(parsed)
        _ceremony.check_authenticator_data(auth_data, self.settings)
        try:
            # Verified with a stored count of 0, so py_webauthn checks the signature and never
            # refuses for the counter: the counter is decided below by the store's conditional
            # write, which also settles two concurrent uses (WebAuthn L3 7.2 step 21).
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=data.challenge,
                expected_rp_id=self.settings.rp_id,
                expected_origin=list(self.settings.origins),
                credential_public_key=stored.public_key,
                credential_current_sign_count=0,
                require_user_verification=self.settings.require_user_verification,
            )
        except _ceremony.MALFORMED as exc:
            raise PasskeyVerificationFailed from exc
        now = self.clock()
        if not await self.credentials.record_use(
            stored.credential_id, sign_count=verified.new_sign_count, backed_up=verified.credential_backed_up, now=now
        ):
            await self._refuse_use(stored, verified.new_sign_count, now)
        used = replace(
            stored, sign_count=verified.new_sign_count, backed_up=verified.credential_backed_up, last_used_at=now
        )
        return PasskeySignIn(user_id=stored.user_id, credential=used, user_verified=verified.user_verified)

    async def _refuse_use(self, stored: PasskeyCredential, received: int, now: datetime) -> None:
        current = await self.credentials.get(stored.credential_id)
        if current is None:  # deleted while the ceremony ran
            raise UnknownPasskey
        details = {"stored_count": str(current.sign_count), "received_count": str(received)}
        await self._emit(PasskeyEvent(PasskeyEventType.COUNTER_REGRESSION, current.user_id, current.id, now, details))
        raise PasskeyCounterRegression(
            credential_id=current.credential_id,
            user_id=current.user_id,
            stored=current.sign_count,
            received=received,
        )

    async def list_passkeys(self, user_id: Any) -> list[PasskeyCredential]:
        """The user's passkeys, oldest first."""
        return await self.credentials.list_for_user(user_id)

    async def rename(self, user_id: Any, passkey_id: uuid.UUID, name: str) -> str:
        """Rename one of the user's passkeys; return the name stored (trimmed).

        Raises:
            PasskeyInvalidName: The name is empty, longer than 64 characters or holds control characters.
            UnknownPasskey: The user has no passkey with this id.
        """
        label = _clean_name(name)
        if not await self.credentials.rename(user_id, passkey_id, label):
            raise UnknownPasskey
        await self._emit(PasskeyEvent(PasskeyEventType.RENAMED, user_id, passkey_id, self.clock(), {"name": label}))
        return label

    async def has_passkeys(self, user_id: Any) -> bool:
        """Whether the user has at least one passkey (a way to sign in)."""
        return bool(await self.credentials.list_for_user(user_id))

    async def delete_all(self, user_id: Any) -> int:
        """Delete every passkey of the user (each with its ``deleted`` event); return how many went.

        The first e-mail sign-in of a never-verified account calls it: whoever registered the
        address before its owner proved it must not keep a passkey into the account (issue 20).
        """
        passkeys = await self.credentials.list_for_user(user_id)
        for passkey in passkeys:
            await self.credentials.delete(user_id, passkey.id)
            await self._emit(PasskeyEvent(PasskeyEventType.DELETED, user_id, passkey.id, self.clock()))
        return len(passkeys)

    async def delete(
        self,
        user_id: Any,
        passkey_id: uuid.UUID,
        *,
        keep_last: bool = False,
        still_reachable: Callable[[], Awaitable[bool]] | None = None,
    ) -> PasskeyCredential:
        """Delete one of the user's passkeys; return it as it was.

        Args:
            user_id: The owner.
            passkey_id: The passkey's row id.
            keep_last: Refuse to delete the user's only passkey (it is their last way to sign in:
                no usable password, no linked OAuth account).
            still_reachable: Asked after the deletion is committed, with fresh reads, whether the
                user still has a way in; ``False`` puts the passkey back (same row, same
                credential id) and refuses. No ``deleted`` event is emitted for a deletion undone.

        Raises:
            UnknownPasskey: The user has no passkey with this id.
            PasskeyLastLoginMethod: ``keep_last`` and it is the user's only passkey, or
                ``still_reachable`` answered ``False``.
        """
        passkeys = await self.credentials.list_for_user(user_id)
        found = next((passkey for passkey in passkeys if passkey.id == passkey_id), None)
        if found is None:
            raise UnknownPasskey
        # The store decides "the last one" under a lock: a check here would let two concurrent
        # deletions of a user's last two passkeys both pass it.
        if not await self.credentials.delete(user_id, passkey_id, unless_last=keep_last):  # pragma: no cover
            # Deleted by a concurrent request between the list and this delete (a race).
            raise UnknownPasskey
        if still_reachable is not None and not await still_reachable():
            # A concurrent removal of the user's other way in (their password) ran meanwhile.
            await self.credentials.add(found)
            raise PasskeyLastLoginMethod
        await self._emit(PasskeyEvent(PasskeyEventType.DELETED, user_id, passkey_id, self.clock()))
        return found
