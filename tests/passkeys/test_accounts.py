"""The passkey account flows below HTTP: the OAuth side of the last-way-in rule, sign-up state in Redis, notices."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import redis.asyncio

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.exceptions import OAuthLastLoginMethod
from fastapi_userkit.mail import AccountMailer, OutboxMailer
from fastapi_userkit.passkeys import (
    ChallengeRecord,
    PasskeyAlreadyRegistered,
    PasskeyService,
    PasskeySettings,
    PasskeySignUpUnavailable,
    RedisPasskeyChallengeStore,
    accounts,
)
from fastapi_userkit.passkeys.accounts import signup_fields_model
from tests.app_factory import HookLog, UserCreate, fast_password_helper, make_user_manager_class
from tests.conftest import REDIS_PREFIX, SessionMaker
from tests.models import IntUser, OAuthAccount, User
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN, START, Clock, MakeUser, challenge_store, credential_store

PREFIX = f"{REDIS_PREFIX}passkey-accounts:"


async def test_unlinking_the_last_oauth_account_counts_passkeys(db: SessionMaker, service: PasskeyService) -> None:
    """A user without a password keeps their last OAuth account, unless the manager sees a passkey of theirs."""
    authenticator = SoftAuthenticator(ORIGIN)
    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        manager = make_user_manager_class(HookLog())(user_db, fast_password_helper())
        user = await manager.oauth_callback("fake", "at", "1001", "alice@example.com")
        user_id = user.id

        with pytest.raises(OAuthLastLoginMethod):
            await manager.oauth_unlink(user, "fake", "1001")  # passkeys not counted: the safe side
        manager.passkeys = service
        with pytest.raises(OAuthLastLoginMethod):
            await manager.oauth_unlink(user, "fake", "1001")  # counted, and there is none
        options = await service.registration_options(user_id, user_name="alice")
        await service.verify_registration(user_id, authenticator.create(options))
        unlinked = await manager.oauth_unlink(user, "fake", "1001")

    assert unlinked.oauth_accounts == []


async def test_sign_up_needs_uuid_user_ids(int_db: SessionMaker, service: PasskeyService) -> None:
    """A manager with integer ids cannot pre-allocate the new user's id: the feature is not offered (a 404)."""
    from fastapi_userkit import BaseUserManager, IntegerIDMixin

    class IntManager(IntegerIDMixin, BaseUserManager[IntUser, int]):
        reset_password_token_secret = "s" * 32
        verification_token_secret = "s" * 32

    async with int_db() as session:
        manager = IntManager(SQLAlchemyUserDatabase[IntUser, int](session, IntUser))
        fields = signup_fields_model(UserCreate).model_validate({"email": "merlin@camelot.bt"})

        with pytest.raises(PasskeySignUpUnavailable):
            await accounts.begin_signup(service, manager, fields)


async def test_a_sign_up_whose_passkey_is_taken_leaves_no_user(db: SessionMaker, service: PasskeyService) -> None:
    """If the new passkey cannot be stored (its id is registered), the user created for it is deleted again."""
    authenticator = SoftAuthenticator(ORIGIN)
    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        log = HookLog()
        manager = make_user_manager_class(log)(user_db, fast_password_helper())
        existing = await manager.oauth_callback("fake", "at", "1001", "alice@example.com")
        options = await service.registration_options(existing.id, user_name="alice")
        await service.verify_registration(existing.id, authenticator.create(options))
        taken_id = next(iter(authenticator.credentials))
        fields = signup_fields_model(UserCreate).model_validate({"email": "merlin@camelot.bt"})
        signup_options = await accounts.begin_signup(service, manager, fields)

        with pytest.raises(PasskeyAlreadyRegistered):
            await accounts.complete_signup(
                service, manager, UserCreate, authenticator.create(signup_options, credential_id=taken_id), None
            )
        left = await user_db.get_by_email("merlin@camelot.bt")

    assert left is None
    assert log.names().count("on_after_register") == 1  # the OAuth user's only


async def test_a_notice_without_background_tasks_is_sent_at_once(db: SessionMaker) -> None:
    """announce() without background tasks mails before it returns; without a mailer it only records."""
    outbox = OutboxMailer()
    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        mailer = AccountMailer(outbox, sender="no-reply@camelot.bt", app_name="Camelot")
        manager = make_user_manager_class(HookLog())(user_db, fast_password_helper(), mailer=mailer)
        silent = make_user_manager_class(HookLog())(user_db, fast_password_helper())
        user = await manager.oauth_callback("fake", "at", "1001", "alice@example.com")

        await accounts.announce(manager, None, None, user, "registered", passkey_id=uuid.uuid4(), name="Key")
        await accounts.announce(silent, None, None, user, "deleted", passkey_id=uuid.uuid4(), name="Key")

    assert [str(message["Subject"]) for message in outbox.messages] == ["Passkeys changed on your Camelot account"]


async def test_sign_up_state_round_trips_through_redis(redis_client: redis.asyncio.Redis, db: SessionMaker) -> None:
    """A sign-up's fields wait in Redis with the challenge and come back once; foreign values are no challenge."""
    store = RedisPasskeyChallengeStore(redis_client, key_prefix=PREFIX)
    record = ChallengeRecord("signup", str(uuid.uuid4()), START + timedelta(minutes=5), '{"email": "a|b@c.d"}')
    await store.put("digest", record, now=START)
    foreign = {
        "not-json": "signup|x|2026",
        "not-a-list": '{"purpose": "signup"}',
        "short": '["signup", null, "2026-01-01T00:00:00+00:00"]',
        "purpose": '["admin", null, "2026-01-01T00:00:00+00:00", null]',
        "types": '["signup", 1, "2026-01-01T00:00:00+00:00", null]',
        "payload": '["signup", null, "2026-01-01T00:00:00+00:00", 7]',
        "expiry": '["signup", null, "tomorrow", null]',
        "expiry-type": '["signup", null, 1, null]',
    }
    for name, value in foreign.items():
        await redis_client.set(PREFIX + name, value)

    taken = await store.take("digest")
    again = await store.take("digest")
    refused = {name: await store.take(name) for name in foreign}

    assert (taken, again) == (record, None)
    assert refused == dict.fromkeys(foreign)


async def test_a_full_sign_up_with_challenges_in_redis(
    db: SessionMaker, redis_client: redis.asyncio.Redis, clock: Clock
) -> None:
    """The sign-up ceremony with Redis challenges: the user exists with the pre-allocated id and its passkey."""
    settings = PasskeySettings(rp_id="camelot.test", rp_name="Camelot", origins=(ORIGIN,))
    challenges = RedisPasskeyChallengeStore(redis_client, key_prefix=PREFIX)
    service = PasskeyService(settings, credential_store(db), challenges, clock=clock)
    authenticator = SoftAuthenticator(ORIGIN)
    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        manager = make_user_manager_class(HookLog())(user_db, fast_password_helper())
        options = await accounts.begin_signup(
            service, manager, signup_fields_model(UserCreate).model_validate({"email": "m@camelot.bt"})
        )

        user, passkey, assurance = await accounts.complete_signup(
            service, manager, UserCreate, authenticator.create(options), None, name="Phone"
        )
        signed_in = await service.verify_authentication(authenticator.get(await service.authentication_options()))

    assert user.id == passkey.user_id == signed_in.user_id
    assert user.id.bytes == next(iter(authenticator.credentials.values())).user_handle
    assert assurance.aal == 2


async def test_concurrent_deletions_never_remove_the_last_passkey(
    db: SessionMaker, settings: PasskeySettings, make_user: MakeUser
) -> None:
    """Two requests deleting a user's last two passkeys at once: one succeeds, the other keeps the last one."""
    authenticator = SoftAuthenticator(ORIGIN)
    user_id = await make_user()
    setup = PasskeyService(settings, credential_store(db), challenge_store(db))
    for _ in range(2):
        options = await setup.registration_options(user_id, user_name="merlin")
        await setup.verify_registration(user_id, authenticator.create(options))
    first, second = await setup.list_passkeys(user_id)
    services = [PasskeyService(settings, credential_store(db), challenge_store(db)) for _ in range(2)]

    outcomes = await asyncio.gather(
        services[0].delete(user_id, first.id, keep_last=True),
        services[1].delete(user_id, second.id, keep_last=True),
        return_exceptions=True,
    )
    left = await setup.list_passkeys(user_id)
    for service in (setup, *services):
        await service.credentials.session.close()  # type: ignore[attr-defined]
        await service.challenges.session.close()  # type: ignore[attr-defined]

    assert len(left) == 1
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["PasskeyCredential", "PasskeyLastLoginMethod"]


def test_sign_up_unavailable_is_a_404_for_the_client() -> None:
    """The sign-up routes translate the integer-id refusal into 404 PASSKEY_SIGNUP_UNAVAILABLE, not a 500."""
    from fastapi import HTTPException

    from fastapi_userkit.router.common import translate

    with pytest.raises(HTTPException) as caught, translate("passkey-signup", "register"):
        raise PasskeySignUpUnavailable()

    assert (caught.value.status_code, caught.value.detail) == (404, "PASSKEY_SIGNUP_UNAVAILABLE")
