"""The last way in across tables: deleting the last passkey and removing the password at once (issue 19, item 5).

The passkey store and the user table are written through different sessions, so no lock covers
both; each operation checks again after its own write and undoes it when the user is left with
no way in. The race is forced: both first checks pass before either write starts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.exceptions import OAuthLastLoginMethod
from fastapi_userkit.passkeys import (
    PasskeyCredential,
    PasskeyEventType,
    PasskeyLastLoginMethod,
    PasskeyService,
    PasskeySettings,
    PasswordLastLoginMethod,
    accounts,
)
from fastapi_userkit.passkeys.sqlalchemy import SQLAlchemyPasskeyStore
from tests.app_factory import HookLog, fast_password_helper, make_user_manager_class
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, Passkey, User
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN, Events, MakeUser, challenge_store, credential_store

Hook = Callable[[], Awaitable[object]]


class GatedStore(SQLAlchemyPasskeyStore[Passkey]):
    """A passkey store whose first deletion runs ``before_delete`` first."""

    before_delete: Hook | None = None

    async def delete(self, user_id: Any, id: uuid.UUID, *, unless_last: bool = False) -> bool:
        if (hook := self.before_delete) is not None:
            self.before_delete = None
            await hook()
        return await super().delete(user_id, id, unless_last=unless_last)


class GatedUserDatabase(SQLAlchemyUserDatabase[User, uuid.UUID]):
    """A user database whose first update (or OAuth unlink) runs a hook first (an undo is not held)."""

    before_update: Hook | None = None
    before_unlink: Hook | None = None

    async def update(self, user: User, update_dict: dict[str, Any]) -> User:
        if (hook := self.before_update) is not None:
            self.before_update = None
            await hook()
        return await super().update(user, update_dict)

    async def remove_oauth_account(self, user: User, oauth_account: Any, *, unless_last: bool = False) -> User:
        if (hook := self.before_unlink) is not None:
            self.before_unlink = None
            await hook()
        return await super().remove_oauth_account(user, oauth_account, unless_last=unless_last)


async def _one_passkey(db: SessionMaker, settings: PasskeySettings, user_id: uuid.UUID) -> PasskeyCredential:
    setup = PasskeyService(settings, credential_store(db), challenge_store(db))
    options = await setup.registration_options(user_id, user_name="merlin")
    await setup.verify_registration(user_id, SoftAuthenticator(ORIGIN).create(options))
    (passkey,) = await setup.list_passkeys(user_id)
    await _close(setup)
    return passkey


async def _close(service: PasskeyService) -> None:
    await service.credentials.session.close()  # type: ignore[attr-defined]
    await service.challenges.session.close()  # type: ignore[attr-defined]


async def _ways_in(db: SessionMaker, user_id: uuid.UUID) -> tuple[int, bool]:
    """How many passkeys the user has, and whether their password is usable, read afresh."""
    async with db() as session:
        passkeys = len(await SQLAlchemyPasskeyStore(session, Passkey).list_for_user(user_id))
        user = await session.get(User, user_id)
        assert user is not None
        return passkeys, has_usable_password(user.hashed_password)


async def _load(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    assert user is not None
    await session.commit()  # end the read, as a request's manager does before its writes
    return user


async def test_racing_removals_of_the_last_passkey_and_the_password_leave_a_way_in(
    db: SessionMaker, settings: PasskeySettings, make_user: MakeUser
) -> None:
    """Both first checks pass, then both write: at least one removal is undone and refused, never both done."""
    for _ in range(4):
        user_id = await make_user()
        passkey = await _one_passkey(db, settings, user_id)
        barrier = asyncio.Barrier(2)
        events, log = Events(), HookLog()
        store = GatedStore(db(), Passkey)
        store.before_delete = barrier.wait
        deleting = PasskeyService(settings, store, challenge_store(db), on_event=events)
        removing = PasskeyService(settings, credential_store(db), challenge_store(db))
        async with db() as deleter_session, db() as remover_session:
            user_db = GatedUserDatabase(remover_session, User, OAuthAccount)
            user_db.before_update = barrier.wait
            manager = make_user_manager_class(log)(user_db, fast_password_helper())
            outcomes = await asyncio.gather(
                accounts.delete_passkey(deleting, await _load(deleter_session, user_id), passkey.id),
                accounts.remove_password(removing, manager, await _load(remover_session, user_id), None),
                return_exceptions=True,
            )
        await _close(deleting)
        await _close(removing)
        passkeys, password = await _ways_in(db, user_id)
        deleted, removed = (not isinstance(outcome, BaseException) for outcome in outcomes)

        assert passkeys or password, outcomes  # never left without a way in
        assert not (deleted and removed)
        assert isinstance(outcomes[0], PasskeyCredential if deleted else PasskeyLastLoginMethod)
        assert isinstance(outcomes[1], User if removed else PasswordLastLoginMethod)
        # What was refused is back as it was, and only what stands is announced.
        assert passkeys == (0 if deleted else 1)
        assert password is not removed
        assert [event.type for event in events.seen] == ([PasskeyEventType.DELETED] if deleted else [])
        assert ("on_after_update" in log.names()) is removed


async def test_a_deletion_is_undone_when_the_password_went_meanwhile(
    db: SessionMaker, settings: PasskeySettings, make_user: MakeUser
) -> None:
    """The deleter saw a password that is gone by its re-check (read afresh, not from the loaded user)."""
    user_id = await make_user()
    passkey = await _one_passkey(db, settings, user_id)
    events = Events()
    service = PasskeyService(settings, GatedStore(db(), Passkey), challenge_store(db), on_event=events)
    async with db() as session, db() as other:
        user = await _load(session, user_id)  # still shows the password

        async def remove_the_password() -> None:
            await GatedUserDatabase(other, User, OAuthAccount).update(
                await _load(other, user_id), {"hashed_password": "!unusable"}
            )

        service.credentials.before_delete = remove_the_password  # type: ignore[attr-defined]
        with pytest.raises(PasskeyLastLoginMethod):
            await accounts.delete_passkey(service, user, passkey.id)
        (restored,) = await service.list_passkeys(user_id)
    await _close(service)

    assert restored == passkey  # the same row and credential, sign-ins with it keep working
    assert events.seen == []  # no "deleted" event for a deletion undone


async def test_a_password_removal_is_undone_when_the_last_passkey_went_meanwhile(
    db: SessionMaker, settings: PasskeySettings, make_user: MakeUser
) -> None:
    """The remover saw a passkey that is gone by its re-check: the previous hash is back, no event, no notice."""
    user_id = await make_user()
    passkey = await _one_passkey(db, settings, user_id)
    service = PasskeyService(settings, credential_store(db), challenge_store(db))
    log = HookLog()
    async with db() as session:
        user_db = GatedUserDatabase(session, User, OAuthAccount)

        async def delete_the_passkey() -> None:
            assert await service.credentials.delete(user_id, passkey.id)

        user_db.before_update = delete_the_passkey
        manager = make_user_manager_class(log)(user_db, fast_password_helper())
        with pytest.raises(PasswordLastLoginMethod):
            await accounts.remove_password(service, manager, await _load(session, user_id), None)
    await _close(service)

    assert await _ways_in(db, user_id) == (0, True)
    assert log.names() == []


async def test_a_user_of_another_storage_is_checked_as_given(
    db: SessionMaker, settings: PasskeySettings, make_user: MakeUser
) -> None:
    """A user object outside any SQLAlchemy session (another storage's) is taken as it is for the re-check."""
    user_id = await make_user()
    passkey = await _one_passkey(db, settings, user_id)
    service = PasskeyService(settings, credential_store(db), challenge_store(db))
    user = SimpleNamespace(id=user_id, hashed_password="x", oauth_accounts=[])

    deleted = await accounts.delete_passkey(service, user, passkey.id)
    await _close(service)

    assert deleted == passkey
    assert await _ways_in(db, user_id) == (0, True)


async def _oauth_user(db: SessionMaker) -> uuid.UUID:
    """A user created by OAuth: no usable password, one linked account."""
    async with db() as session:
        manager = make_user_manager_class(HookLog())(
            SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount), fast_password_helper()
        )
        user = await manager.oauth_callback("fake", "at", uuid.uuid4().hex, f"{uuid.uuid4().hex}@camelot.bt")
        return user.id


async def _oauth_accounts(db: SessionMaker, user_id: uuid.UUID) -> int:
    async with db() as session:
        user = await SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount).get(user_id)
        assert user is not None
        return len(user.oauth_accounts)


async def test_racing_removals_of_the_last_passkey_and_the_last_oauth_account_leave_a_way_in(
    db: SessionMaker, settings: PasskeySettings
) -> None:
    """A user without a password: deleting the passkey and unlinking the OAuth account at once keeps one of them."""
    for _ in range(4):
        user_id = await _oauth_user(db)
        passkey = await _one_passkey(db, settings, user_id)
        barrier = asyncio.Barrier(2)
        events, log = Events(), HookLog()
        store = GatedStore(db(), Passkey)
        store.before_delete = barrier.wait
        deleting = PasskeyService(settings, store, challenge_store(db), on_event=events)
        counting = PasskeyService(settings, credential_store(db), challenge_store(db))
        async with db() as deleter_session, db() as unlinker_session:
            user_db = GatedUserDatabase(unlinker_session, User, OAuthAccount)
            user_db.before_unlink = barrier.wait
            manager = make_user_manager_class(log)(user_db, fast_password_helper())
            manager.passkeys = counting
            unlinker = await _load(unlinker_session, user_id)
            account = unlinker.oauth_accounts[0]
            outcomes = await asyncio.gather(
                accounts.delete_passkey(deleting, await _load(deleter_session, user_id), passkey.id),
                manager.oauth_unlink(unlinker, account.oauth_name, account.account_id),
                return_exceptions=True,
            )
        await _close(deleting)
        await _close(counting)
        passkeys, password = await _ways_in(db, user_id)
        linked = await _oauth_accounts(db, user_id)
        deleted, unlinked = (not isinstance(outcome, BaseException) for outcome in outcomes)

        assert not password
        assert passkeys or linked, outcomes  # never left without a way in
        assert not (deleted and unlinked)
        assert isinstance(outcomes[0], PasskeyCredential if deleted else PasskeyLastLoginMethod)
        assert isinstance(outcomes[1], User if unlinked else OAuthLastLoginMethod)
        assert (passkeys, linked) == (0 if deleted else 1, 0 if unlinked else 1)
        assert [event.type for event in events.seen] == ([PasskeyEventType.DELETED] if deleted else [])
        assert ("on_after_update" in log.names()) is unlinked


async def test_an_unlink_is_undone_when_the_last_passkey_went_meanwhile(
    db: SessionMaker, settings: PasskeySettings
) -> None:
    """The unlink counted a passkey that is gone by its re-check: the account is linked back, no update hook."""
    user_id = await _oauth_user(db)
    passkey = await _one_passkey(db, settings, user_id)
    service = PasskeyService(settings, credential_store(db), challenge_store(db))
    log = HookLog()
    async with db() as session:
        user_db = GatedUserDatabase(session, User, OAuthAccount)

        async def delete_the_passkey() -> None:
            assert await service.credentials.delete(user_id, passkey.id)

        user_db.before_unlink = delete_the_passkey
        manager = make_user_manager_class(log)(user_db, fast_password_helper())
        manager.passkeys = service
        user = await _load(session, user_id)
        (account,) = user.oauth_accounts
        oauth_name, account_id, token = account.oauth_name, account.account_id, account.access_token
        with pytest.raises(OAuthLastLoginMethod):
            await manager.oauth_unlink(user, oauth_name, account_id)
    await _close(service)

    async with db() as session:
        relinked = await SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount).get_by_oauth_account(
            oauth_name, account_id
        )
    assert relinked is not None
    assert relinked.id == user_id
    assert [(a.account_id, a.access_token) for a in relinked.oauth_accounts] == [(account_id, token)]
    assert log.names() == []
