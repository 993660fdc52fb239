"""PasskeyService on SQLite, PostgreSQL and MariaDB, with real WebAuthn payloads from the software authenticator."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from fastapi_userkit.passkeys import (
    InvalidPasskeyPayload,
    PasskeyAlreadyRegistered,
    PasskeyChallengeInvalid,
    PasskeyCounterRegression,
    PasskeyEventType,
    PasskeyInvalidName,
    PasskeyOriginMismatch,
    PasskeyRPIDMismatch,
    PasskeyService,
    PasskeySettings,
    PasskeyUserNotVerified,
    PasskeyVerificationFailed,
    SQLAlchemyPasskeyChallengeStore,
    SQLAlchemyPasskeyStore,
    UnknownPasskey,
    default_user_handle,
)
from tests.conftest import SessionMaker
from tests.models import IntPasskey, IntPasskeyChallenge, IntUser, Passkey
from tests.passkeys.authenticator import SoftAuthenticator, b64u, unb64u
from tests.passkeys.conftest import (
    ORIGIN,
    OTHER_ORIGIN,
    RP_ID,
    Clock,
    Events,
    MakeUser,
    challenge_store,
    credential_store,
)


async def _register(service: PasskeyService, authenticator: SoftAuthenticator, user_id: uuid.UUID, **kw: Any) -> Any:
    options = await service.registration_options(user_id, user_name="arthur@camelot.bt")
    return await service.verify_registration(user_id, authenticator.create(options, **kw))


async def test_register_then_sign_in_usernameless(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser, events: Events
) -> None:
    """A registered passkey signs its owner in with no user named; user verification makes it AAL2."""
    user_id = await make_user()

    registered = await _register(service, authenticator, user_id)
    options = await service.authentication_options()
    signed_in = await service.verify_authentication(authenticator.get(options))

    assert options["allowCredentials"] == []
    assert options["rpId"] == RP_ID
    assert signed_in.user_id == user_id
    assert (signed_in.user_verified, signed_in.aal) == (True, 2)
    assert signed_in.credential.id == registered.id
    assert signed_in.credential.sign_count == 1
    assert signed_in.credential.last_used_at is not None
    assert registered.transports == ("internal", "hybrid")
    assert registered.aaguid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert [event.type for event in events.seen] == [PasskeyEventType.REGISTERED]


async def test_sign_in_as_a_known_user_lists_the_users_passkeys(
    service: PasskeyService, make_user: MakeUser, clock: Clock
) -> None:
    """Options for a known user allow exactly that user's passkeys, and the answer signs that user in."""
    user_id, other = await make_user(), await make_user()
    first, second, foreign = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    one = await _register(service, first, user_id)
    clock.advance(1)  # listed oldest first
    two = await _register(service, second, user_id)
    await _register(service, foreign, other)

    options = await service.authentication_options(user_id)
    signed_in = await service.verify_authentication(second.get(options), user_id=user_id)

    assert [item["id"] for item in options["allowCredentials"]] == [one.credential_id, two.credential_id]
    assert options["allowCredentials"][0]["transports"] == ["internal", "hybrid"]
    assert signed_in.credential.id == two.id


async def test_a_known_user_sign_in_refuses_another_users_passkey(service: PasskeyService, make_user: MakeUser) -> None:
    """A challenge issued for one user is not answered with another user's passkey."""
    user_id, other = await make_user(), await make_user()
    mine, theirs = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    await _register(service, mine, user_id)
    foreign = await _register(service, theirs, other)

    options = await service.authentication_options(user_id)

    with pytest.raises(UnknownPasskey):
        await service.verify_authentication(
            theirs.get(options, credential_id=unb64u(foreign.credential_id)), user_id=user_id
        )


async def test_options_for_a_user_without_passkeys_are_refused(service: PasskeyService, make_user: MakeUser) -> None:
    """A user with no passkey gets no authentication options."""
    with pytest.raises(UnknownPasskey):
        await service.authentication_options(await make_user())


async def test_registration_options_exclude_the_users_passkeys(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """Registration options list the user's passkeys in excludeCredentials and carry a 256-bit challenge."""
    user_id = await make_user()
    first = await _register(service, authenticator, user_id)

    options = await service.registration_options(user_id, user_name="arthur@camelot.bt", display_name="Arthur")

    assert [item["id"] for item in options["excludeCredentials"]] == [first.credential_id]
    assert len(unb64u(options["challenge"])) == 32
    assert unb64u(options["user"]["id"]) == default_user_handle(user_id)
    assert options["user"]["displayName"] == "Arthur"
    assert options["authenticatorSelection"] == {
        "residentKey": "preferred",
        "requireResidentKey": False,
        "userVerification": "required",
    }
    assert options["attestation"] == "none"
    assert options["timeout"] == 300_000


async def test_passwordless_registration_requires_a_discoverable_credential(
    service: PasskeyService, make_user: MakeUser
) -> None:
    """A passwordless registration asks for residentKey required."""
    options = await service.registration_options(await make_user(), user_name="arthur", passwordless=True)

    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["requireResidentKey"] is True


async def test_every_configured_origin_is_accepted(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """A ceremony run on the second configured origin verifies."""
    user_id = await make_user()
    await _register(service, authenticator, user_id, origin=OTHER_ORIGIN)

    signed_in = await service.verify_authentication(
        authenticator.get(await service.authentication_options(), origin=OTHER_ORIGIN)
    )

    assert signed_in.user_id == user_id


@pytest.mark.parametrize("ceremony", ["registration", "authentication"])
async def test_a_wrong_origin_is_refused(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser, ceremony: str
) -> None:
    """A response made on an origin not configured (a phishing page relaying the ceremony) is refused."""
    user_id = await make_user()
    phishing = "https://camelot.test.evil.example"
    if ceremony == "registration":
        options = await service.registration_options(user_id, user_name="arthur")
        with pytest.raises(PasskeyOriginMismatch) as caught:
            await service.verify_registration(user_id, authenticator.create(options, origin=phishing))
    else:
        await _register(service, authenticator, user_id)
        options = await service.authentication_options()
        with pytest.raises(PasskeyOriginMismatch) as caught:
            await service.verify_authentication(authenticator.get(options, origin=phishing))
    assert caught.value.code == "PASSKEY_WRONG_ORIGIN"


@pytest.mark.parametrize("ceremony", ["registration", "authentication"])
async def test_a_wrong_rp_id_is_refused(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser, ceremony: str
) -> None:
    """Authenticator data signed for another RP id is refused, whatever the origin says."""
    user_id = await make_user()
    if ceremony == "registration":
        options = await service.registration_options(user_id, user_name="arthur")
        with pytest.raises(PasskeyRPIDMismatch) as caught:
            await service.verify_registration(user_id, authenticator.create(options, rp_id="evil.example"))
    else:
        await _register(service, authenticator, user_id)
        options = await service.authentication_options()
        with pytest.raises(PasskeyRPIDMismatch) as caught:
            await service.verify_authentication(authenticator.get(options, rp_id="evil.example"))
    assert caught.value.code == "PASSKEY_WRONG_RP_ID"


async def test_a_replayed_registration_is_refused(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """A registration response sent twice: the second finds its challenge used."""
    user_id = await make_user()
    options = await service.registration_options(user_id, user_name="arthur")
    response = authenticator.create(options)
    await service.verify_registration(user_id, response)

    with pytest.raises(PasskeyChallengeInvalid):
        await service.verify_registration(user_id, response)


async def test_a_replayed_assertion_is_refused(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """An assertion sent twice: the second finds its challenge used (even from a counterless authenticator)."""
    authenticator.counter_step = 0
    await _register(service, authenticator, await make_user())
    response = authenticator.get(await service.authentication_options())
    await service.verify_authentication(response)

    with pytest.raises(PasskeyChallengeInvalid) as caught:
        await service.verify_authentication(response)
    assert caught.value.code == "PASSKEY_CHALLENGE_INVALID"


async def test_an_expired_challenge_is_refused_and_spent(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser, clock: Clock
) -> None:
    """An answer after the 5-minute lifetime is refused, and the challenge cannot be used after that either."""
    user_id = await make_user()
    await _register(service, authenticator, user_id)
    options = await service.authentication_options()
    clock.advance(299)
    still_valid = await service.verify_authentication(authenticator.get(options))
    late = await service.authentication_options()
    clock.advance(300)

    with pytest.raises(PasskeyChallengeInvalid):
        await service.verify_authentication(authenticator.get(late))
    clock.advance(-300)
    with pytest.raises(PasskeyChallengeInvalid):
        await service.verify_authentication(authenticator.get(late))
    assert still_valid.user_id == user_id


async def test_a_challenge_answers_only_its_own_ceremony_and_user(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """A registration challenge cannot register another user, nor answer a sign-in."""
    user_id, other = await make_user(), await make_user()
    options = await service.registration_options(user_id, user_name="arthur")
    with pytest.raises(PasskeyChallengeInvalid):
        await service.verify_registration(other, authenticator.create(options))
    await _register(service, authenticator, user_id)
    registration_challenge = (await service.registration_options(user_id, user_name="arthur"))["challenge"]

    with pytest.raises(PasskeyChallengeInvalid):
        await service.verify_authentication(authenticator.get({"challenge": registration_challenge, "rpId": RP_ID}))
    usernameless = await service.authentication_options()
    with pytest.raises(PasskeyChallengeInvalid):
        await service.verify_authentication(authenticator.get(usernameless), user_id=user_id)


async def test_an_unissued_challenge_is_refused(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """A response to a challenge the server never issued is refused."""
    user_id = await make_user()
    await _register(service, authenticator, user_id)

    with pytest.raises(PasskeyChallengeInvalid):
        await service.verify_authentication(authenticator.get({"challenge": b64u(b"\x01" * 32), "rpId": RP_ID}))


async def test_a_counter_regression_is_refused_and_reported(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser, events: Events
) -> None:
    """A clone that signs with a counter not above the stored one is refused, and an event reports it."""
    user_id = await make_user()
    registered = await _register(service, authenticator, user_id)
    clone = authenticator.clone()
    for _ in range(3):
        await service.verify_authentication(authenticator.get(await service.authentication_options()))

    with pytest.raises(PasskeyCounterRegression) as caught:
        await service.verify_authentication(clone.get(await service.authentication_options()))

    error = caught.value
    assert (error.stored, error.received, error.user_id) == (3, 1, user_id)
    assert error.credential_id == registered.credential_id
    regression = events.seen[-1]
    assert regression.type is PasskeyEventType.COUNTER_REGRESSION
    assert (regression.user_id, regression.passkey_id) == (user_id, registered.id)
    assert regression.details == {"stored_count": "3", "received_count": "1"}
    stored = await credential_store_for(service).get(registered.credential_id)
    assert stored is not None
    assert stored.sign_count == 3


def credential_store_for(service: PasskeyService) -> Any:
    """The service's credential store."""
    return service.credentials


async def test_an_equal_counter_and_a_zero_after_use_are_regressions(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """The same counter twice, or 0 once the counter has moved, is refused."""
    await _register(service, authenticator, await make_user())
    await service.verify_authentication(authenticator.get(await service.authentication_options(), sign_count=5))

    with pytest.raises(PasskeyCounterRegression):
        await service.verify_authentication(authenticator.get(await service.authentication_options(), sign_count=5))
    with pytest.raises(PasskeyCounterRegression):
        await service.verify_authentication(authenticator.get(await service.authentication_options(), sign_count=0))


async def test_a_counterless_authenticator_signs_in_again_and_again(
    service: PasskeyService, make_user: MakeUser
) -> None:
    """An authenticator that always sends 0 (most synced passkeys) is not taken for a clone."""
    authenticator = SoftAuthenticator(ORIGIN, counter_step=0, backup_eligible=True, backed_up=True)
    user_id = await make_user()
    registered = await _register(service, authenticator, user_id)

    results = [
        await service.verify_authentication(authenticator.get(await service.authentication_options())) for _ in range(3)
    ]

    assert (registered.backup_eligible, registered.backed_up) == (True, True)
    assert [result.credential.sign_count for result in results] == [0, 0, 0]


async def test_a_deleted_passkey_no_longer_signs_in(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser, events: Events
) -> None:
    """After deletion the passkey is unknown; deleting it again, or as another user, is refused."""
    user_id, other = await make_user(), await make_user()
    registered = await _register(service, authenticator, user_id)
    with pytest.raises(UnknownPasskey):
        await service.delete(other, registered.id)

    await service.delete(user_id, registered.id)

    with pytest.raises(UnknownPasskey) as caught:
        await service.verify_authentication(authenticator.get(await service.authentication_options()))
    assert caught.value.code == "PASSKEY_UNKNOWN_CREDENTIAL"
    with pytest.raises(UnknownPasskey):
        await service.delete(user_id, registered.id)
    assert events.seen[-1].type is PasskeyEventType.DELETED
    assert await service.list_passkeys(user_id) == []


async def test_a_credential_registered_twice_is_refused(service: PasskeyService, make_user: MakeUser) -> None:
    """A credential id already registered (to anyone) cannot be registered again."""
    user_id, other = await make_user(), await make_user()
    credential_id = b"\x07" * 32
    await _register(service, SoftAuthenticator(ORIGIN), user_id, credential_id=credential_id)

    with pytest.raises(PasskeyAlreadyRegistered) as caught:
        await _register(service, SoftAuthenticator(ORIGIN), other, credential_id=credential_id)

    assert caught.value.code == "PASSKEY_ALREADY_REGISTERED"
    assert await service.list_passkeys(other) == []


async def test_user_verification_is_required_by_default(service: PasskeyService, make_user: MakeUser) -> None:
    """Without the UV flag, registration and sign-in are refused under the default settings."""
    user_id = await make_user()
    lax = SoftAuthenticator(ORIGIN, user_verification=False)
    options = await service.registration_options(user_id, user_name="arthur")
    with pytest.raises(PasskeyUserNotVerified):
        await service.verify_registration(user_id, lax.create(options))
    strict = SoftAuthenticator(ORIGIN)
    await _register(service, strict, user_id)

    with pytest.raises(PasskeyUserNotVerified) as caught:
        await service.verify_authentication(strict.get(await service.authentication_options(), uv=False))
    assert caught.value.code == "PASSKEY_USER_NOT_VERIFIED"


async def test_without_user_verification_a_sign_in_is_one_factor(
    db: SessionMaker, clock: Clock, make_user: MakeUser
) -> None:
    """With verification only preferred, a sign-in without UV succeeds and says so (AAL1)."""
    settings = PasskeySettings(rp_id=RP_ID, rp_name="Camelot", origins=(ORIGIN,), user_verification="preferred")
    service = PasskeyService(settings, credential_store(db), challenge_store(db), clock=clock)
    authenticator = SoftAuthenticator(ORIGIN, user_verification=False)
    await _register(service, authenticator, await make_user())

    signed_in = await service.verify_authentication(authenticator.get(await service.authentication_options()))

    assert (signed_in.user_verified, signed_in.aal) == (False, 1)


async def test_a_usernameless_answer_must_name_the_passkeys_owner(service: PasskeyService, make_user: MakeUser) -> None:
    """A usernameless answer with another user's handle, or with none, is refused."""
    user_id, other = await make_user(), await make_user()
    authenticator = SoftAuthenticator(ORIGIN)
    await _register(service, authenticator, user_id)

    with pytest.raises(UnknownPasskey):
        await service.verify_authentication(
            authenticator.get(await service.authentication_options(), user_handle=default_user_handle(other))
        )
    hidden = SoftAuthenticator(ORIGIN)
    await _register(service, hidden, user_id, resident=False)
    options = await service.authentication_options(user_id)
    response = hidden.get(options)
    assert response["response"]["userHandle"] is None
    usernameless = await service.authentication_options()
    with pytest.raises(UnknownPasskey):
        await service.verify_authentication(hidden.get(usernameless, credential_id=unb64u(response["id"])))


async def test_a_never_registered_passkey_is_unknown(service: PasskeyService, make_user: MakeUser) -> None:
    """A passkey the server never registered is unknown (its challenge is spent all the same)."""
    stranger = SoftAuthenticator(ORIGIN)
    stranger.create({"rp": {"id": RP_ID}, "user": {"id": b64u(b"someone")}, "challenge": b64u(b"x")})

    with pytest.raises(UnknownPasskey):
        await service.verify_authentication(stranger.get(await service.authentication_options()))


async def test_a_forged_signature_is_refused(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """An assertion whose signature is another key's does not verify, and the counter does not move."""
    user_id = await make_user()
    registered = await _register(service, authenticator, user_id)
    forger = SoftAuthenticator(ORIGIN)
    forger.create(
        {"rp": {"id": RP_ID}, "user": {"id": b64u(default_user_handle(user_id))}, "challenge": b64u(b"x")},
        credential_id=unb64u(registered.credential_id),
    )

    with pytest.raises(PasskeyVerificationFailed) as caught:
        await service.verify_authentication(forger.get(await service.authentication_options()))

    assert caught.value.code == "PASSKEY_VERIFICATION_FAILED"
    assert (await service.list_passkeys(user_id))[0].sign_count == 0


async def test_passkeys_are_listed_renamed_and_owned(
    service: PasskeyService, make_user: MakeUser, events: Events
) -> None:
    """A user renames their passkey (trimmed); another user cannot; bad names are refused."""
    user_id, other = await make_user(), await make_user()
    options = await service.registration_options(user_id, user_name="arthur")
    registered = await service.verify_registration(user_id, SoftAuthenticator(ORIGIN).create(options), name=" Phone ")

    await service.rename(user_id, registered.id, "  Laptop  ")
    await service.rename(user_id, registered.id, "Laptop")

    assert registered.name == "Phone"
    assert [passkey.name for passkey in await service.list_passkeys(user_id)] == ["Laptop"]
    assert events.seen[-1].details == {"name": "Laptop"}
    with pytest.raises(UnknownPasskey):
        await service.rename(other, registered.id, "Mine now")
    for bad in ("", "   ", "x" * 65, "tab\there"):
        with pytest.raises(PasskeyInvalidName):
            await service.rename(user_id, registered.id, bad)


async def test_an_answer_without_user_presence_is_malformed(
    service: PasskeyService, authenticator: SoftAuthenticator, make_user: MakeUser
) -> None:
    """An assertion without the user-present flag (no gesture) is refused as malformed."""
    await _register(service, authenticator, await make_user())
    authenticator.user_present = False

    with pytest.raises(InvalidPasskeyPayload, match="present"):
        await service.verify_authentication(authenticator.get(await service.authentication_options()))


class _DeletingStore(SQLAlchemyPasskeyStore[Passkey]):
    """The real SQL store, with the passkey deleted by another request just before the use is recorded."""

    async def record_use(self, credential_id: str, *, sign_count: int, backed_up: bool, now: datetime) -> bool:
        stored = await self.get(credential_id)
        assert stored is not None
        await self.delete(stored.user_id, stored.id)
        return await super().record_use(credential_id, sign_count=sign_count, backed_up=backed_up, now=now)


async def test_a_passkey_deleted_during_the_sign_in_is_unknown(
    db: SessionMaker, settings: PasskeySettings, clock: Clock, events: Events, make_user: MakeUser
) -> None:
    """A passkey deleted between its lookup and the counter write is unknown, not a counter regression."""
    service = PasskeyService(settings, _DeletingStore(db(), Passkey), challenge_store(db), clock=clock, on_event=events)
    authenticator = SoftAuthenticator(ORIGIN)
    await _register(service, authenticator, await make_user())

    with pytest.raises(UnknownPasskey):
        await service.verify_authentication(authenticator.get(await service.authentication_options()))
    assert PasskeyEventType.COUNTER_REGRESSION not in [event.type for event in events.seen]


async def test_a_ceremony_with_integer_user_ids(int_db: SessionMaker, settings: PasskeySettings, clock: Clock) -> None:
    """Integer ids: the user handle is the id's text, and a usernameless sign-in finds the user."""
    async with int_db() as session:
        user = IntUser(email="arthur@camelot.bt", hashed_password="x")
        session.add(user)
        await session.commit()
        user_id = user.id
    service = PasskeyService(
        settings,
        SQLAlchemyPasskeyStore(int_db(), IntPasskey),
        SQLAlchemyPasskeyChallengeStore(int_db(), IntPasskeyChallenge),
        clock=clock,
    )
    authenticator = SoftAuthenticator(ORIGIN)
    options = await service.registration_options(user_id, user_name="arthur")
    await service.verify_registration(user_id, authenticator.create(options))

    signed_in = await service.verify_authentication(authenticator.get(await service.authentication_options()))

    assert unb64u(options["user"]["id"]) == str(user_id).encode()
    assert signed_in.user_id == user_id
