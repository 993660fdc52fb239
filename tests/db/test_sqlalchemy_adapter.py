"""SQLAlchemyUserDatabase on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from fastapi_userkit.db import BaseUserDatabase, SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_userkit.exceptions import OAuthAccountAlreadyLinked, UserAlreadyExists
from tests.conftest import EngineFactory, SessionMaker, reset_schema
from tests.models import AccessToken, Base, IntOAuthAccount, IntUser, OAuthAccount, User

UserDB = SQLAlchemyUserDatabase[User, uuid.UUID]


def account(account_id: str = "1001", oauth_name: str = "camelot", **extra: Any) -> dict[str, Any]:
    """The columns of an OAuth account, with overrides."""
    return {
        "oauth_name": oauth_name,
        "access_token": "provider-access",
        "account_id": account_id,
        "account_email": "knight@provider.bt",
    } | extra


async def count(session_maker: SessionMaker, model: type[Any], *conditions: Any) -> int:
    """Rows of ``model`` matching ``conditions``, read in a fresh session (what is committed)."""
    async with session_maker() as session:
        result = await session.execute(select(func.count()).select_from(model).where(*conditions))
        return int(result.scalar_one())


async def test_create_get_update_delete(db: SessionMaker) -> None:
    """A user round-trips through create, get, get_by_email, update and delete."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)
        user = await user_db.create({"email": "Lancelot@camelot.bt", "hashed_password": "h"})

        assert isinstance(user.id, uuid.UUID)
        assert user.is_active is True
        assert (await user_db.get(user.id)) is user
        assert (await user_db.get_by_email("LANCELOT@CAMELOT.BT")) is user

        updated = await user_db.update(user, {"first_name": "Lance"})
        assert updated.first_name == "Lance"

        await user_db.delete(user)
        assert await user_db.get(user.id) is None


async def test_create_applies_column_defaults(db: SessionMaker) -> None:
    """A new user is active, not a superuser and not verified unless told otherwise."""
    async with db() as session:
        user = await UserDB(session, User).create({"email": "kay@camelot.bt", "hashed_password": "h"})

    assert (user.is_active, user.is_superuser, user.is_verified) == (True, False, False)
    assert user.oauth_accounts == []


async def test_lookups_of_unknown_users_return_none(db: SessionMaker) -> None:
    """get, get_by_email and get_by_oauth_account return None when nothing matches."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)
        await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})

        assert await user_db.get(uuid.uuid4()) is None
        assert await user_db.get_by_email("mordred@camelot.bt") is None
        assert await user_db.get_by_oauth_account("camelot", "404") is None


@pytest.mark.parametrize(
    "email",
    [
        "kay@camelot.bt\x00",
        "k\x00ay@camelot.bt",
        "kay\ud800@camelot.bt",
        "x" * 5000,
        "' OR '1'='1",
        "%@camelot.bt",
        "\U0001f5e1@camelot.bt",
        "kay@camelot.bt ",
        "",
    ],
)
async def test_get_by_email_with_any_text_finds_nothing_and_never_fails(db: SessionMaker, email: str) -> None:
    """Text no stored address equals (NUL, lone surrogate, oversize, SQL, trailing space) finds nobody."""
    async with db() as session:
        user_db = UserDB(session, User)
        await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})

        found = await user_db.get_by_email(email)

        assert found is None
        assert (await user_db.get_by_email("KAY@camelot.bt")) is not None


async def test_create_with_unknown_key_raises_and_writes_nothing(db: SessionMaker) -> None:
    """A key that is no column makes create raise TypeError (as FastAPI Users) before any write."""
    async with db() as session:
        user_db = UserDB(session, User)

        with pytest.raises(TypeError):
            await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h", "nickname": "K"})

    assert await count(db, User) == 0


async def test_update_with_unknown_key_writes_no_column(db: SessionMaker) -> None:
    """A key that is no column is set on the object only; the row keeps its columns."""
    async with db() as session:
        user_db = UserDB(session, User)
        user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})

        await user_db.update(user, {"nickname": "K", "first_name": "Kay"})

    async with db() as session:
        stored = await UserDB(session, User).get(user.id)
    assert stored is not None
    assert stored.first_name == "Kay"
    assert not hasattr(stored, "nickname")


async def test_email_is_unique_case_insensitively(db: SessionMaker) -> None:
    """Inserting an e-mail that differs only in case raises UserAlreadyExists."""
    async with db() as session:
        user_db = UserDB(session, User)
        await user_db.create({"email": "galahad@camelot.bt", "hashed_password": "h"})

        with pytest.raises(UserAlreadyExists):
            await user_db.create({"email": "GALAHAD@camelot.bt", "hashed_password": "h"})

    assert await count(db, User) == 1


async def test_session_stays_usable_after_a_unique_violation(db: SessionMaker) -> None:
    """After UserAlreadyExists the same session reads and writes normally."""
    async with db() as session:
        user_db = UserDB(session, User)
        first = await user_db.create({"email": "tristan@camelot.bt", "hashed_password": "h"})
        with pytest.raises(UserAlreadyExists):
            await user_db.create({"email": "Tristan@Camelot.bt", "hashed_password": "h"})

        second = await user_db.create({"email": "isolde@camelot.bt", "hashed_password": "h"})
        renamed = await user_db.update(first, {"first_name": "Tristram"})

        assert (await user_db.get(second.id)) is second
        assert renamed.first_name == "Tristram"
    assert await count(db, User) == 2


async def test_update_to_taken_email_raises(db: SessionMaker) -> None:
    """Updating to another user's e-mail raises UserAlreadyExists and leaves both users intact."""
    async with db() as session:
        user_db = UserDB(session, User)
        await user_db.create({"email": "percival@camelot.bt", "hashed_password": "h"})
        other = await user_db.create({"email": "bors@camelot.bt", "hashed_password": "h"})

        with pytest.raises(UserAlreadyExists):
            await user_db.update(other, {"email": "Percival@camelot.bt"})

        assert other.email == "bors@camelot.bt"
        assert (await user_db.get_by_email("bors@camelot.bt")) is other


async def test_update_to_own_email_in_other_case_is_allowed(db: SessionMaker) -> None:
    """A user may change the letter case of their own address."""
    async with db() as session:
        user_db = UserDB(session, User)
        user = await user_db.create({"email": "gawain@camelot.bt", "hashed_password": "h"})

        updated = await user_db.update(user, {"email": "Gawain@camelot.bt"})

    assert updated.email == "Gawain@camelot.bt"
    assert await count(db, User, User.email == "Gawain@camelot.bt") == 1


async def test_integrity_error_not_about_the_email_is_not_disguised(db: SessionMaker) -> None:
    """A duplicate id or a missing e-mail surfaces as IntegrityError, never as UserAlreadyExists."""
    async with db() as session:
        user_db = UserDB(session, User)
        taken_id = (await user_db.create({"email": "ector@camelot.bt", "hashed_password": "h"})).id
        other_id = (await user_db.create({"email": "ywain@camelot.bt", "hashed_password": "h"})).id
        with pytest.raises(IntegrityError):
            await user_db.create({"hashed_password": "h"})

    # Fresh sessions: the identity map would otherwise catch the duplicate id before the database.
    async with db() as session:
        with pytest.raises(IntegrityError):
            await UserDB(session, User).create({"id": taken_id, "email": "lucan@camelot.bt", "hashed_password": "h"})
    async with db() as session:
        user_db = UserDB(session, User)
        stored = await user_db.get(other_id)
        assert stored is not None
        with pytest.raises(IntegrityError):
            await user_db.update(stored, {"id": taken_id, "email": "YWAIN@camelot.bt"})

    assert await count(db, User) == 2


async def test_oauth_account_link_lookup_and_update(db: SessionMaker) -> None:
    """An account is linked, found by (oauth_name, account_id), then updated in place."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)
        user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})

        linked = await user_db.add_oauth_account(user, account(expires_at=1000, refresh_token="r1"))
        found = await user_db.get_by_oauth_account("camelot", "1001")
        assert found is linked is user
        assert [a.account_id for a in user.oauth_accounts] == ["1001"]

        updated = await user_db.update_oauth_account(
            user, user.oauth_accounts[0], {"access_token": "fresh", "expires_at": 2000}
        )

    assert updated is user
    async with db() as session:
        stored = await UserDB(session, User, OAuthAccount).get_by_oauth_account("camelot", "1001")
    assert stored is not None
    assert [(a.access_token, a.expires_at, a.refresh_token) for a in stored.oauth_accounts] == [("fresh", 2000, "r1")]


async def test_one_user_may_link_several_providers(db: SessionMaker) -> None:
    """Accounts with the same id at different providers belong to one user without conflict."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)
        user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})

        await user_db.add_oauth_account(user, account(oauth_name="camelot"))
        await user_db.add_oauth_account(user, account(oauth_name="avalon"))

        assert sorted(a.oauth_name for a in user.oauth_accounts) == ["avalon", "camelot"]
        assert (await user_db.get_by_oauth_account("avalon", "1001")) is user


async def test_provider_account_cannot_be_linked_to_a_second_user(db: SessionMaker) -> None:
    """The (oauth_name, account_id) unique constraint makes a second link raise OAuthAccountAlreadyLinked."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)
        owner = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
        other = await user_db.create({"email": "bedivere@camelot.bt", "hashed_password": "h"})
        await user_db.add_oauth_account(owner, account())

        with pytest.raises(OAuthAccountAlreadyLinked):
            await user_db.add_oauth_account(other, account(account_email="bedivere@provider.bt"))

        assert other.oauth_accounts == []
        assert (await user_db.get_by_oauth_account("camelot", "1001")) is owner
    assert await count(db, OAuthAccount) == 1


async def test_create_with_oauth_account_writes_user_and_account(db: SessionMaker) -> None:
    """create_with_oauth_account stores the user and its first account together."""
    async with db() as session:
        user = await UserDB(session, User, OAuthAccount).create_with_oauth_account(
            {"email": "kay@camelot.bt", "hashed_password": "h", "is_verified": True}, account()
        )

    assert user.is_verified is True
    assert [a.account_id for a in user.oauth_accounts] == ["1001"]
    assert await count(db, OAuthAccount, OAuthAccount.user_id == user.id) == 1


async def test_create_with_oauth_account_writes_nothing_when_the_email_is_taken(db: SessionMaker) -> None:
    """If the user insert fails, the account is not written either (one transaction)."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)
        await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})

        with pytest.raises(UserAlreadyExists):
            await user_db.create_with_oauth_account({"email": "KAY@camelot.bt", "hashed_password": "h"}, account())

    assert await count(db, User) == 1
    assert await count(db, OAuthAccount) == 0


async def test_create_with_oauth_account_writes_nothing_when_the_account_is_linked(db: SessionMaker) -> None:
    """If the account was linked meanwhile, no user is created and OAuthAccountAlreadyLinked is raised."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)
        owner = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
        await user_db.add_oauth_account(owner, account())

        with pytest.raises(OAuthAccountAlreadyLinked):
            await user_db.create_with_oauth_account({"email": "dagonet@camelot.bt", "hashed_password": "h"}, account())

    assert await count(db, User) == 1
    assert await count(db, OAuthAccount) == 1


async def test_create_with_oauth_account_reraises_other_integrity_errors(db: SessionMaker) -> None:
    """A failure that is neither the e-mail nor the provider account is not disguised."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)

        with pytest.raises(IntegrityError):
            await user_db.create_with_oauth_account(
                {"email": "dagonet@camelot.bt", "hashed_password": "h"}, account(account_email=None)
            )

    assert await count(db, User) == 0


async def test_oauth_methods_need_an_oauth_table(db: SessionMaker) -> None:
    """Without an OAuth-account table every OAuth method raises NotImplementedError."""
    async with db() as session:
        user_db = UserDB(session, User)
        user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})

        with pytest.raises(NotImplementedError):
            await user_db.get_by_oauth_account("camelot", "1001")
        with pytest.raises(NotImplementedError):
            await user_db.add_oauth_account(user, account())
        with pytest.raises(NotImplementedError):
            await user_db.update_oauth_account(user, OAuthAccount(**account()), {"access_token": "x"})
        with pytest.raises(NotImplementedError):
            await user_db.create_with_oauth_account({"email": "k2@camelot.bt", "hashed_password": "h"}, account())

    assert await count(db, OAuthAccount) == 0


async def test_delete_removes_the_users_oauth_accounts(db: SessionMaker) -> None:
    """A user with linked accounts can be deleted; the accounts go with it, others stay."""
    async with db() as session:
        user_db = UserDB(session, User, OAuthAccount)
        user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
        other = await user_db.create({"email": "lamorak@camelot.bt", "hashed_password": "h"})
        await user_db.add_oauth_account(user, account(oauth_name="camelot"))
        await user_db.add_oauth_account(user, account(oauth_name="avalon"))
        await user_db.add_oauth_account(other, account(account_id="2002"))

        await user_db.delete(user)

    assert await count(db, User) == 1
    assert await count(db, OAuthAccount) == 1
    assert await count(db, OAuthAccount, OAuthAccount.user_id == other.id) == 1


async def test_delete_works_when_the_adapter_has_no_oauth_table(db: SessionMaker) -> None:
    """The seed's get_user_db (no OAuth table) deletes a user whose model has the relationship."""
    async with db() as session:
        user = await UserDB(session, User, OAuthAccount).create_with_oauth_account(
            {"email": "kay@camelot.bt", "hashed_password": "h"}, account()
        )
    async with db() as session:
        user_db = UserDB(session, User)
        stored = await user_db.get(user.id)
        assert stored is not None

        await user_db.delete(stored)

    assert await count(db, User) == 0
    assert await count(db, OAuthAccount) == 0


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
async def test_delete_cascades_to_access_tokens(backend: str, engine_for: EngineFactory) -> None:
    """Deleting a user removes its access-token rows through ON DELETE CASCADE."""
    engine = await engine_for(backend)
    await reset_schema(engine, Base.metadata)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)
    async with session_maker() as session:
        user_db = UserDB(session, User, OAuthAccount)
        user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
        session.add(AccessToken(token="t" * 43, user_id=user.id))
        await session.commit()

        await user_db.delete(user)

    assert await count(session_maker, AccessToken) == 0


async def test_integer_id_users(int_db: SessionMaker) -> None:
    """The integer-id mixin variant stores, finds, links and deletes users."""
    async with int_db() as session:
        user_db = SQLAlchemyUserDatabase[IntUser, int](session, IntUser, IntOAuthAccount)
        first = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
        second = await user_db.create({"email": "ector@camelot.bt", "hashed_password": "h"})
        await user_db.add_oauth_account(second, account())

        assert isinstance(first.id, int)
        assert second.id != first.id
        assert (await user_db.get(first.id)) is first
        assert (await user_db.get_by_email("ECTOR@camelot.bt")) is second
        assert (await user_db.get_by_oauth_account("camelot", "1001")) is second
        with pytest.raises(UserAlreadyExists):
            await user_db.create({"email": "Kay@camelot.bt", "hashed_password": "h"})

        await user_db.delete(second)

    assert await count(int_db, IntUser) == 1
    assert await count(int_db, IntOAuthAccount) == 0


async def test_seed_pattern_persists_writes(db: SessionMaker) -> None:
    """With the tutorial's dependencies (a session that is never committed), every write persists."""

    async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
        async with db() as session:
            yield session

    async def get_user_db(session: AsyncSession) -> AsyncGenerator[UserDB, None]:
        yield SQLAlchemyUserDatabase(session, User)

    sessions = get_async_session()
    session = await anext(sessions)
    user_dbs = get_user_db(session)
    user_db = await anext(user_dbs)
    user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
    await user_db.update(user, {"first_name": "Kay"})
    await user_dbs.aclose()
    await sessions.aclose()

    async with db() as second:
        stored = await SQLAlchemyUserDatabase[User, uuid.UUID](second, User).get_by_email("kay@camelot.bt")
    assert stored is not None
    assert stored.first_name == "Kay"


async def test_returned_objects_are_loaded_even_with_expire_on_commit(db: SessionMaker) -> None:
    """Every write returns an object readable without I/O, even from an expire_on_commit=True session."""
    expiring = async_sessionmaker(db.kw["bind"], expire_on_commit=True)
    async with expiring() as session:
        user_db = UserDB(session, User, OAuthAccount)
        user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
        assert user.email == "kay@camelot.bt"

        user = await user_db.update(user, {"first_name": "Kay"})
        assert user.first_name == "Kay"

        user = await user_db.add_oauth_account(user, account())
        assert user.oauth_accounts[0].access_token == "provider-access"

        user = await user_db.update_oauth_account(user, user.oauth_accounts[0], {"access_token": "fresh"})
        assert user.oauth_accounts[0].access_token == "fresh"

        created = await user_db.create_with_oauth_account(
            {"email": "ector@camelot.bt", "hashed_password": "h"}, account(account_id="2002")
        )
        assert created.oauth_accounts[0].account_id == "2002"


class PlainBase(DeclarativeBase):
    """Metadata of an application without OAuth."""


class PlainUser(SQLAlchemyBaseUserTableUUID, PlainBase):
    """A user table with another name and no oauth_accounts relationship."""

    __tablename__ = "plain_user"


class StaffUser(PlainUser):
    """A single-table subclass: it shares plain_user and must not get a second e-mail index."""


async def test_user_table_without_oauth_relationship(engine_for: EngineFactory) -> None:
    """A user model without OAuth, and its single-table subclass, get one e-mail index and delete cleanly."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, PlainBase.metadata)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        user_db = SQLAlchemyUserDatabase[PlainUser, uuid.UUID](session, PlainUser)
        user = await user_db.create({"email": "kay@camelot.bt", "hashed_password": "h"})
        with pytest.raises(UserAlreadyExists):
            await user_db.create({"email": "Kay@camelot.bt", "hashed_password": "h"})

        await user_db.delete(user)

        assert await user_db.get_by_email("kay@camelot.bt") is None
    table = PlainBase.metadata.tables["plain_user"]
    assert sorted(index.name or "" for index in table.indexes) == [
        "ix_plain_user_email",
        "ix_plain_user_email_ci",
    ]
    assert StaffUser.__table__ is PlainUser.__table__


async def test_base_user_database_is_abstract() -> None:
    """Every method of the BaseUserDatabase protocol raises NotImplementedError until an adapter overrides it."""
    base = BaseUserDatabase[User, uuid.UUID]()
    user = User(email="kay@camelot.bt", hashed_password="h")
    calls = [
        base.get(uuid.uuid4()),
        base.get_by_email("kay@camelot.bt"),
        base.get_by_oauth_account("camelot", "1001"),
        base.create({}),
        base.update(user, {}),
        base.delete(user),
        base.add_oauth_account(user, {}),
        base.update_oauth_account(user, OAuthAccount(), {}),
    ]

    for call in calls:
        with pytest.raises(NotImplementedError):
            await call
