"""Garbage in, a typed passkey error out: never an exception a router would answer with a 500."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastapi_userkit.passkeys import (
    InvalidPasskeyPayload,
    PasskeyChallengeInvalid,
    PasskeyException,
    PasskeyOriginMismatch,
    PasskeyService,
    PasskeyVerificationFailed,
    _ceremony,
)
from tests.passkeys.authenticator import SoftAuthenticator, b64u, unb64u
from tests.passkeys.conftest import MakeUser

Mutation = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> Any:
        target = payload
        *parents, last = path.split(".")
        for key in parents:
            target = target[key]
        target[last] = value
        return payload

    return mutate


def _client_data(value: bytes) -> Mutation:
    return _set("response.clientDataJSON", b64u(value))


def _rewrite_client_data(**changes: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> Any:
        data = json.loads(unb64u(payload["response"]["clientDataJSON"]))
        data.update(changes)
        payload["response"]["clientDataJSON"] = b64u(json.dumps(data).encode())
        return payload

    return mutate


def _attestation(value: object) -> Mutation:
    return _set("response.attestationObject", b64u(cbor2.dumps(value)))


COMMON: list[tuple[str, Mutation]] = [
    ("not an object", lambda payload: [payload]),
    ("a number", lambda _: 42),
    ("JSON text that does not parse", lambda _: "{not json"),
    ("no response", lambda payload: {key: value for key, value in payload.items() if key != "response"}),
    ("id and rawId differ", _set("id", "AAAA")),
    ("rawId not base64url", _set("rawId", "***")),
    ("wrong type", _set("type", "password")),
    ("clientDataJSON not base64url", _set("response.clientDataJSON", "%%%")),
    ("clientDataJSON not JSON", _client_data(b"\xff\xfe")),
    ("clientDataJSON a list", _client_data(b"[]")),
    ("clientDataJSON without challenge", _client_data(b'{"type":"webauthn.get","origin":"x"}')),
    ("clientDataJSON nested deep", _client_data(b"[" * 100_000)),
    ("challenge a number", _rewrite_client_data(challenge=5)),
    (
        "a credential id over 1023 bytes",
        lambda payload: {**payload, "id": b64u(b"x" * 1024), "rawId": b64u(b"x" * 1024)},
    ),
]

REGISTRATION: list[tuple[str, Mutation]] = [
    *COMMON,
    ("the other ceremony's type", _rewrite_client_data(type="webauthn.get")),
    ("attestationObject not CBOR", _set("response.attestationObject", b64u(b"\xff\x00"))),
    ("attestationObject a list", _attestation([1, 2])),
    ("attestationObject without authData", _attestation({"fmt": "none", "attStmt": {}})),
    ("authData too short", _attestation({"fmt": "none", "attStmt": {}, "authData": b"\x00" * 10})),
    ("authData a string", _attestation({"fmt": "none", "attStmt": {}, "authData": "text"})),
]

AUTHENTICATION: list[tuple[str, Mutation]] = [
    *COMMON,
    ("the other ceremony's type", _rewrite_client_data(type="webauthn.create")),
    ("authenticatorData too short", _set("response.authenticatorData", b64u(b"\x00" * 5))),
    ("authenticatorData not base64url", _set("response.authenticatorData", "%%%")),
    ("userHandle a number", _set("response.userHandle", 7)),
    ("signature missing", _set("response.signature", None)),
]


@pytest.mark.parametrize(("case", "mutate"), REGISTRATION, ids=[case for case, _ in REGISTRATION])
async def test_garbage_registrations_are_typed_errors(
    service: PasskeyService, make_user: MakeUser, case: str, mutate: Mutation
) -> None:
    """Each malformed registration response is an InvalidPasskeyPayload (or another passkey error), never a crash."""
    user_id = await make_user()
    options = await service.registration_options(user_id, user_name="arthur")
    payload = SoftAuthenticator("https://camelot.test").create(options)

    with pytest.raises(PasskeyException) as caught:
        await service.verify_registration(user_id, mutate(payload))

    assert isinstance(caught.value, InvalidPasskeyPayload), case


@pytest.mark.parametrize(("case", "mutate"), AUTHENTICATION, ids=[case for case, _ in AUTHENTICATION])
async def test_garbage_assertions_are_typed_errors(
    service: PasskeyService, make_user: MakeUser, case: str, mutate: Mutation
) -> None:
    """Each malformed authentication response is an InvalidPasskeyPayload, never a crash."""
    user_id = await make_user()
    authenticator = SoftAuthenticator("https://camelot.test")
    options = await service.registration_options(user_id, user_name="arthur")
    await service.verify_registration(user_id, authenticator.create(options))
    payload = authenticator.get(await service.authentication_options())

    with pytest.raises(PasskeyException) as caught:
        await service.verify_authentication(mutate(payload))

    assert isinstance(caught.value, InvalidPasskeyPayload), case


async def test_an_attestation_the_library_refuses_is_a_verification_failure(
    service: PasskeyService, make_user: MakeUser
) -> None:
    """A well-formed response whose attestation statement py_webauthn refuses ('none' with a statement, an
    unknown format) is a PasskeyVerificationFailed."""
    user_id = await make_user()
    for statement in ({"fmt": "none", "attStmt": {"sig": b"x"}}, {"fmt": "made-up", "attStmt": {}}):
        options = await service.registration_options(user_id, user_name="arthur")
        payload = SoftAuthenticator("https://camelot.test").create(options)
        decoded = cbor2.loads(unb64u(payload["response"]["attestationObject"]))
        payload["response"]["attestationObject"] = b64u(cbor2.dumps({**decoded, **statement}))

        with pytest.raises(PasskeyVerificationFailed) as caught:
            await service.verify_registration(user_id, payload)

        assert type(caught.value) is PasskeyVerificationFailed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
base64ish = st.binary(max_size=80).map(lambda data: base64.urlsafe_b64encode(data).decode().rstrip("="))
credential_like = st.fixed_dictionaries(
    {"id": base64ish, "rawId": base64ish, "type": st.sampled_from(["public-key", "other"])},
    optional={
        "response": st.dictionaries(
            st.sampled_from(
                ["clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle", "transports"]
            ),
            base64ish | json_values,
        )
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, credential_like))
def test_the_parsers_raise_only_typed_errors(value: Any) -> None:
    """Any JSON value, or any credential-shaped object with random fields, parses or raises InvalidPasskeyPayload."""
    for parse in (_ceremony.parse_attestation, _ceremony.parse_assertion):
        try:
            parsed = parse(value)
        except InvalidPasskeyPayload:
            continue
        assert isinstance(parsed.raw_id, bytes)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_authenticator_data_parsing_raises_only_typed_errors(data: bytes) -> None:
    """Random bytes as authenticator data or attestation object parse or raise InvalidPasskeyPayload."""
    assertion = _ceremony.parse_assertion(
        {
            "id": b64u(b"id"),
            "rawId": b64u(b"id"),
            "type": "public-key",
            "response": {"clientDataJSON": "", "authenticatorData": b64u(data), "signature": ""},
        }
    )
    registration = _ceremony.parse_attestation(
        {
            "id": b64u(b"id"),
            "rawId": b64u(b"id"),
            "type": "public-key",
            "response": {"clientDataJSON": "", "attestationObject": b64u(data)},
        }
    )
    with contextlib.suppress(InvalidPasskeyPayload):
        _ceremony.authenticator_data(assertion)
    with contextlib.suppress(InvalidPasskeyPayload):
        _ceremony.registration_authenticator_data(registration)


ODD_BUT_WELL_FORMED: list[tuple[str, Mutation, type[PasskeyException]]] = [
    # base64url decoding skips characters outside its alphabet: "***" is an empty challenge, never issued.
    ("challenge not base64url", _rewrite_client_data(challenge="***"), PasskeyChallengeInvalid),
    ("origin a list", _rewrite_client_data(origin=["https://camelot.test"]), PasskeyOriginMismatch),
]


@pytest.mark.parametrize(
    ("case", "mutate", "expected"), ODD_BUT_WELL_FORMED, ids=[c for c, _, _ in ODD_BUT_WELL_FORMED]
)
async def test_odd_client_data_fails_the_check_it_breaks(
    service: PasskeyService, make_user: MakeUser, case: str, mutate: Mutation, expected: type[PasskeyException]
) -> None:
    """clientDataJSON with a challenge or origin of the wrong shape fails the challenge or origin check."""
    user_id = await make_user()
    authenticator = SoftAuthenticator("https://camelot.test")
    options = await service.registration_options(user_id, user_name="arthur")
    await service.verify_registration(user_id, authenticator.create(options))
    registration = authenticator.create(await service.registration_options(user_id, user_name="arthur"))
    assertion = authenticator.get(await service.authentication_options())

    with pytest.raises(expected):
        await service.verify_registration(user_id, mutate(registration))
    with pytest.raises(expected):
        await service.verify_authentication(mutate(assertion))
