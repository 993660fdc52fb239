"""BaseUserManager with a real SQLAlchemyUserDatabase on SQLite, PostgreSQL and MariaDB.

Every method and hook of contract section 1.1, with the deliberate differences of DESIGN.md:
hooks never see a plaintext password, reset tokens are single use, unknown e-mails cost a dummy
verification, legacy hashes are upgraded, an OAuth account belongs to at most one user.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.security import OAuth2PasswordRequestForm
from hypothesis import given
from hypothesis import strategies as st
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fastapi_userkit import BaseUserManager, IntegerIDMixin, UUIDIDMixin, exceptions
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.jwt import decode_jwt, generate_jwt
from fastapi_userkit.manager import REDACTED, RESET_PASSWORD_TOKEN_AUDIENCE, VERIFY_USER_TOKEN_AUDIENCE
from fastapi_userkit.password import PasswordHelper
from tests.app_factory import SECRET, HookLog, PasswordValidator, UserCreate, UserUpdate, fast_password_helper
from tests.app_factory import make_user_manager_class as manager_class
from tests.conftest import EngineFactory, SessionMaker, reset_schema
from tests.models import Base, OAuthAccount, User

PASSWORD = "grail-quest-1191"
NEW_PASSWORD = "swallow-airspeed-24"
UserDB = SQLAlchemyUserDatabase[User, uuid.UUID]
Manager = BaseUserManager[User, uuid.UUID]


@dataclass
class Kit:
    """A manager on a real database, with what the tests reach into."""

    manager: Manager
    hooks: HookLog
    session: AsyncSession
    user_db: UserDB

    def with_policy(self, validate_password: PasswordValidator) -> Manager:
        """Another manager on the same session whose validate_password is ``validate_password``."""
        return manager_class(self.hooks, validate_password=validate_password)(self.user_db, fast_password_helper())

    async def user(self, email: str = "kay@camelot.bt", password: str = PASSWORD, **fields: Any) -> User:
        """Create a user through the manager (unsafe, so flags apply) and forget its hooks."""
        user = await self.manager.create(UserCreate(email=email, password=password, **fields))
        self.hooks.calls.clear()
        return user

    async def login(self, email: str, password: str) -> User | None:
        """authenticate() with a login form's credentials."""
        return await self.manager.authenticate(OAuth2PasswordRequestForm(username=email, password=password))


async def make_kit(session_maker: SessionMaker) -> AsyncIterator[Kit]:
    """Yield a Kit on a session of ``session_maker``."""
    hooks = HookLog()
    async with session_maker() as session:
        user_db = UserDB(session, User, OAuthAccount)
        yield Kit(manager_class(hooks)(user_db, fast_password_helper()), hooks, session, user_db)


@pytest.fixture
async def kit(db: SessionMaker) -> AsyncIterator[Kit]:
    """A UserManager (hooks recorded, fast Argon2) over SQLAlchemyUserDatabase, on every database."""
    async for built in make_kit(db):
        yield built


@pytest.fixture
async def sqlite_kit(engine_for: EngineFactory) -> AsyncIterator[Kit]:
    """The same on SQLite only, for token checks that never depend on the database."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, Base.metadata)
    async for built in make_kit(async_sessionmaker(engine, expire_on_commit=False)):
        yield built


async def refuse_short(password: str, user: Any) -> None:
    """A password policy: at least 12 characters."""
    if len(password) < 12:
        raise exceptions.InvalidPasswordException(reason="Password should be at least 12 characters")


def token_for(audience: str, lifetime: int | None = 3600, secret: str = SECRET, **claims: Any) -> str:
    """A JWT with ``claims`` for ``audience``."""
    return generate_jwt({"aud": audience, **claims}, secret, lifetime)


# -- reading -----------------------------------------------------------------------------------


async def test_get_methods_return_the_user_or_raise_user_not_exists(kit: Kit) -> None:
    """get, get_by_email (any case) and get_by_oauth_account find the user, or raise UserNotExists."""
    user = await kit.user()
    await kit.user_db.add_oauth_account(
        user, {"oauth_name": "camelot", "access_token": "a", "account_id": "1001", "account_email": "k@p.bt"}
    )

    assert await kit.manager.get(user.id) is user
    assert await kit.manager.get_by_email("KAY@Camelot.bt") is user
    assert await kit.manager.get_by_oauth_account("camelot", "1001") is user
    with pytest.raises(exceptions.UserNotExists):
        await kit.manager.get(uuid.uuid4())
    with pytest.raises(exceptions.UserNotExists):
        await kit.manager.get_by_email("mordred@camelot.bt")
    with pytest.raises(exceptions.UserNotExists):
        await kit.manager.get_by_oauth_account("camelot", "404")


# -- create ------------------------------------------------------------------------------------


async def test_create_unsafe_keeps_privileged_fields(kit: Kit) -> None:
    """Programmatic create (safe=False, the default) writes is_superuser, is_active and is_verified."""
    user = await kit.manager.create(
        UserCreate(email="arthur@camelot.bt", password=PASSWORD, is_superuser=True, is_verified=True, is_active=False)
    )

    assert (user.is_superuser, user.is_verified, user.is_active) == (True, True, False)


async def test_create_safe_drops_privileged_fields(kit: Kit) -> None:
    """With safe=True (the register route) the flags are ignored and the app's own fields kept."""
    user = await kit.manager.create(
        UserCreate(
            email="mordred@camelot.bt",
            password=PASSWORD,
            is_superuser=True,
            is_verified=True,
            is_active=False,
            first_name="Mordred",
        ),
        safe=True,
    )

    assert (user.is_superuser, user.is_verified, user.is_active) == (False, False, True)
    assert user.first_name == "Mordred"


async def test_create_hashes_with_argon2id_and_calls_on_after_register(kit: Kit) -> None:
    """The stored hash is Argon2id of the password, never the password, and on_after_register gets the user."""
    user = await kit.manager.create(UserCreate(email="kay@camelot.bt", password=PASSWORD))

    assert user.hashed_password.startswith("$argon2id$")
    assert PASSWORD not in user.hashed_password
    assert kit.manager.password_helper.verify_and_update(PASSWORD, user.hashed_password)[0] is True
    assert kit.hooks.names() == ["on_after_register"]
    assert kit.hooks.last("on_after_register")["user"] is user


async def test_create_ignores_explicit_nulls_for_required_columns(kit: Kit) -> None:
    """is_active=None (and other nulls) fall back to the column default instead of a NOT NULL error."""
    user = await kit.manager.create(
        UserCreate(email="kay@camelot.bt", password=PASSWORD, is_active=None, is_superuser=None, is_verified=None)
    )

    assert (user.is_active, user.is_superuser, user.is_verified) == (True, False, False)


async def test_create_of_a_taken_email_in_any_case_raises(kit: Kit) -> None:
    """Creating an address that exists, in another letter case, raises UserAlreadyExists without a hook."""
    await kit.user("kay@camelot.bt")

    with pytest.raises(exceptions.UserAlreadyExists):
        await kit.manager.create(UserCreate(email="KAY@camelot.bt", password=PASSWORD))

    assert kit.hooks.calls == []


async def test_create_validates_the_password_before_the_duplicate_check(kit: Kit) -> None:
    """validate_password runs first: a refused password on a taken address reports the password."""
    await kit.user("kay@camelot.bt")
    seen: list[tuple[str, Any]] = []

    async def record_and_refuse(password: str, user: Any) -> None:
        seen.append((password, user))
        await refuse_short(password, user)

    attempt = UserCreate(email="kay@camelot.bt", password="short")
    with pytest.raises(exceptions.InvalidPasswordException) as refused:
        await kit.with_policy(record_and_refuse).create(attempt)

    assert refused.value.reason == "Password should be at least 12 characters"
    assert seen == [("short", attempt)]


async def test_create_refuses_a_password_no_hasher_can_encode(kit: Kit) -> None:
    """A password with a lone surrogate (valid in JSON) is an invalid password, not a 500."""
    with pytest.raises(exceptions.InvalidPasswordException):
        await kit.manager.create(UserCreate(email="kay@camelot.bt", password="grail-\ud800-quest"))

    assert await kit.user_db.get_by_email("kay@camelot.bt") is None


# -- verification ------------------------------------------------------------------------------


async def test_request_verify_hands_a_verification_token_to_the_hook(kit: Kit) -> None:
    """The token names the user and e-mail, for the verify audience, and expires."""
    user = await kit.user()

    await kit.manager.request_verify(user)

    token = kit.hooks.last("on_after_request_verify")["token"]
    claims = decode_jwt(token, SECRET, [VERIFY_USER_TOKEN_AUDIENCE])
    assert claims["sub"] == str(user.id)
    assert claims["email"] == "kay@camelot.bt"
    assert "exp" in claims


async def test_request_verify_refuses_inactive_and_verified_users(kit: Kit) -> None:
    """An inactive user gets UserInactive, a verified one UserAlreadyVerified; no token is issued."""
    inactive = await kit.user("kay@camelot.bt", is_active=False)
    verified = await kit.user("ector@camelot.bt", is_verified=True)

    with pytest.raises(exceptions.UserInactive):
        await kit.manager.request_verify(inactive)
    with pytest.raises(exceptions.UserAlreadyVerified):
        await kit.manager.request_verify(verified)

    assert kit.hooks.calls == []


async def test_verify_marks_the_user_verified(kit: Kit) -> None:
    """A valid token verifies the user, persists it and calls on_after_verify."""
    user = await kit.user()
    await kit.manager.request_verify(user)
    token = kit.hooks.last("on_after_request_verify")["token"]

    verified = await kit.manager.verify(token)

    assert verified is user
    assert verified.is_verified is True
    assert kit.hooks.last("on_after_verify")["user"] is user
    await kit.session.refresh(user)
    assert user.is_verified is True


async def test_verify_of_a_verified_user_raises_user_already_verified(kit: Kit) -> None:
    """Using a verification token twice raises UserAlreadyVerified the second time."""
    user = await kit.user()
    await kit.manager.request_verify(user)
    token = kit.hooks.last("on_after_request_verify")["token"]
    await kit.manager.verify(token)

    with pytest.raises(exceptions.UserAlreadyVerified):
        await kit.manager.verify(token)


@pytest.mark.parametrize(
    "case",
    [
        "garbage",
        "wrong_secret",
        "wrong_audience",
        "expired",
        "missing_sub",
        "missing_email",
        "sub_not_a_string",
        "sub_not_a_uuid",
        "unknown_email",
        "other_users_id",
    ],
)
async def test_verify_refuses_bad_tokens(sqlite_kit: Kit, case: str) -> None:
    """Every malformed, foreign, expired or mismatched verification token raises InvalidVerifyToken."""
    user = await sqlite_kit.user("kay@camelot.bt")
    other = await sqlite_kit.user("ector@camelot.bt")
    good: dict[str, Any] = {"sub": str(user.id), "email": user.email}
    tokens = {
        "garbage": "not.a.jwt",
        "wrong_secret": token_for(
            VERIFY_USER_TOKEN_AUDIENCE, secret="another-secret-for-signing-tokens-0123456789", **good
        ),
        "wrong_audience": token_for(RESET_PASSWORD_TOKEN_AUDIENCE, **good),
        "expired": token_for(VERIFY_USER_TOKEN_AUDIENCE, lifetime=-10, **good),
        "missing_sub": token_for(VERIFY_USER_TOKEN_AUDIENCE, email=user.email),
        "missing_email": token_for(VERIFY_USER_TOKEN_AUDIENCE, sub=str(user.id)),
        "sub_not_a_string": token_for(VERIFY_USER_TOKEN_AUDIENCE, sub=12, email=user.email),
        "sub_not_a_uuid": token_for(VERIFY_USER_TOKEN_AUDIENCE, sub="12", email=user.email),
        "unknown_email": token_for(VERIFY_USER_TOKEN_AUDIENCE, sub=str(user.id), email="mordred@camelot.bt"),
        "other_users_id": token_for(VERIFY_USER_TOKEN_AUDIENCE, sub=str(other.id), email=user.email),
    }

    with pytest.raises(exceptions.InvalidVerifyToken):
        await sqlite_kit.manager.verify(tokens[case])

    assert user.is_verified is False
    assert sqlite_kit.hooks.calls == []


async def test_verify_token_dies_when_the_email_changes(kit: Kit) -> None:
    """A token issued for the old address is refused once the user changed it."""
    user = await kit.user()
    await kit.manager.request_verify(user)
    token = kit.hooks.last("on_after_request_verify")["token"]
    await kit.manager.update(UserUpdate(email="sir.kay@camelot.bt"), user)

    with pytest.raises(exceptions.InvalidVerifyToken):
        await kit.manager.verify(token)


# -- forgot and reset password -----------------------------------------------------------------


async def forgot(kit: Kit, user: User) -> str:
    """Run forgot_password and return the token the hook received."""
    await kit.manager.forgot_password(user)
    token: str = kit.hooks.last("on_after_forgot_password")["token"]
    return token


async def test_reset_password_sets_the_new_password(kit: Kit) -> None:
    """forgot_password hands a reset token to the hook; reset_password sets the password and calls its hook."""
    user = await kit.user()
    token = await forgot(kit, user)

    reset = await kit.manager.reset_password(token, NEW_PASSWORD)

    assert reset is user
    assert kit.hooks.last("on_after_reset_password")["user"] is user
    assert await kit.login("kay@camelot.bt", NEW_PASSWORD) is user
    assert await kit.login("kay@camelot.bt", PASSWORD) is None


async def test_reset_token_binds_the_password_without_revealing_its_hash(kit: Kit) -> None:
    """The token carries sub and a password fingerprint for the reset audience, not the hash itself."""
    user = await kit.user()

    claims = decode_jwt(await forgot(kit, user), SECRET, [RESET_PASSWORD_TOKEN_AUDIENCE])

    assert claims["sub"] == str(user.id)
    assert isinstance(claims["password_fgpt"], str)
    assert claims["password_fgpt"] not in user.hashed_password
    assert "exp" in claims


async def test_reset_token_works_once(kit: Kit) -> None:
    """A second use of the same reset token fails, and the password stays the one set first."""
    user = await kit.user()
    token = await forgot(kit, user)
    await kit.manager.reset_password(token, NEW_PASSWORD)

    with pytest.raises(exceptions.InvalidResetPasswordToken):
        await kit.manager.reset_password(token, "a-third-password-42")

    assert await kit.login("kay@camelot.bt", NEW_PASSWORD) is user


async def test_reset_token_dies_after_any_password_change(kit: Kit) -> None:
    """Changing the password by update invalidates every reset token issued before."""
    user = await kit.user()
    token = await forgot(kit, user)
    await kit.manager.update(UserUpdate(password=NEW_PASSWORD), user)

    with pytest.raises(exceptions.InvalidResetPasswordToken):
        await kit.manager.reset_password(token, "a-third-password-42")


async def test_forgot_password_refuses_an_inactive_user(kit: Kit) -> None:
    """No reset token for an inactive user."""
    user = await kit.user(is_active=False)

    with pytest.raises(exceptions.UserInactive):
        await kit.manager.forgot_password(user)

    assert kit.hooks.calls == []


async def test_reset_password_refuses_a_user_deactivated_since(kit: Kit) -> None:
    """A token issued before the user was deactivated raises UserInactive and changes nothing."""
    user = await kit.user()
    token = await forgot(kit, user)
    await kit.manager.update(UserUpdate(is_active=False), user)

    with pytest.raises(exceptions.UserInactive):
        await kit.manager.reset_password(token, NEW_PASSWORD)

    assert kit.manager.password_helper.verify_and_update(PASSWORD, user.hashed_password)[0] is True


async def test_reset_password_of_a_deleted_user_raises_user_not_exists(kit: Kit) -> None:
    """The token's user no longer exists: UserNotExists (the route answers as for a bad token)."""
    user = await kit.user()
    token = await forgot(kit, user)
    await kit.manager.delete(user)

    with pytest.raises(exceptions.UserNotExists):
        await kit.manager.reset_password(token, NEW_PASSWORD)


@pytest.mark.parametrize(
    "case",
    [
        "garbage",
        "wrong_secret",
        "wrong_audience",
        "expired",
        "missing_sub",
        "sub_not_a_string",
        "sub_not_a_uuid",
        "missing_fingerprint",
        "wrong_fingerprint",
    ],
)
async def test_reset_password_refuses_bad_tokens(sqlite_kit: Kit, case: str) -> None:
    """Every malformed, foreign, expired or unbound reset token raises InvalidResetPasswordToken."""
    user = await sqlite_kit.user()
    fingerprint = decode_jwt(await forgot(sqlite_kit, user), SECRET, [RESET_PASSWORD_TOKEN_AUDIENCE])["password_fgpt"]
    good: dict[str, Any] = {"sub": str(user.id), "password_fgpt": fingerprint}
    tokens = {
        "garbage": "not.a.jwt",
        "wrong_secret": token_for(
            RESET_PASSWORD_TOKEN_AUDIENCE, secret="another-secret-for-signing-tokens-0123456789", **good
        ),
        "wrong_audience": token_for(VERIFY_USER_TOKEN_AUDIENCE, **good),
        "expired": token_for(RESET_PASSWORD_TOKEN_AUDIENCE, lifetime=-10, **good),
        "missing_sub": token_for(RESET_PASSWORD_TOKEN_AUDIENCE, password_fgpt=fingerprint),
        "sub_not_a_string": token_for(RESET_PASSWORD_TOKEN_AUDIENCE, sub=7, password_fgpt=fingerprint),
        "sub_not_a_uuid": token_for(RESET_PASSWORD_TOKEN_AUDIENCE, sub="not-a-uuid", password_fgpt=fingerprint),
        "missing_fingerprint": token_for(RESET_PASSWORD_TOKEN_AUDIENCE, sub=str(user.id)),
        "wrong_fingerprint": token_for(RESET_PASSWORD_TOKEN_AUDIENCE, sub=str(user.id), password_fgpt="A" * 22),
    }
    sqlite_kit.hooks.calls.clear()

    with pytest.raises(exceptions.InvalidResetPasswordToken):
        await sqlite_kit.manager.reset_password(tokens[case], NEW_PASSWORD)

    assert await sqlite_kit.login("kay@camelot.bt", PASSWORD) is user
    assert sqlite_kit.hooks.calls == []


async def test_reset_password_applies_the_password_policy(kit: Kit) -> None:
    """A password the policy refuses raises InvalidPasswordException; the token stays usable."""
    user = await kit.user()
    token = await forgot(kit, user)
    strict = kit.with_policy(refuse_short)

    with pytest.raises(exceptions.InvalidPasswordException):
        await strict.reset_password(token, "short")
    await strict.reset_password(token, NEW_PASSWORD)

    assert await kit.login("kay@camelot.bt", NEW_PASSWORD) is user


# -- update and delete -------------------------------------------------------------------------


async def test_update_email_resets_verification(kit: Kit) -> None:
    """A new address is stored unverified; the hook gets the fields the caller sent."""
    user = await kit.user(is_verified=True)

    updated = await kit.manager.update(UserUpdate(email="sir.kay@camelot.bt"), user)

    assert (updated.email, updated.is_verified) == ("sir.kay@camelot.bt", False)
    assert kit.hooks.last("on_after_update")["update_dict"] == {"email": "sir.kay@camelot.bt"}


async def test_update_to_a_taken_email_raises(kit: Kit) -> None:
    """Another user's address, in any case, raises UserAlreadyExists and changes nothing."""
    await kit.user("ector@camelot.bt")
    user = await kit.user("kay@camelot.bt", is_verified=True)

    with pytest.raises(exceptions.UserAlreadyExists):
        await kit.manager.update(UserUpdate(email="Ector@camelot.bt"), user)

    assert (user.email, user.is_verified) == ("kay@camelot.bt", True)
    assert kit.hooks.calls == []


async def test_update_own_email_in_another_case_is_allowed(kit: Kit) -> None:
    """A user may change the letter case of their own address."""
    user = await kit.user("kay@camelot.bt")

    updated = await kit.manager.update(UserUpdate(email="Kay@camelot.bt"), user)

    assert updated.email == "Kay@camelot.bt"


async def test_update_to_the_same_email_keeps_verification(kit: Kit) -> None:
    """Sending the current address unchanged is no e-mail change."""
    user = await kit.user("kay@camelot.bt", is_verified=True)

    updated = await kit.manager.update(UserUpdate(email="kay@camelot.bt"), user)

    assert updated.is_verified is True


async def test_update_ignores_nulls_for_required_columns(kit: Kit) -> None:
    """{"email": null}, {"password": null} and null flags leave the user as it was (no 500)."""
    user = await kit.user("kay@camelot.bt")
    old_hash = user.hashed_password
    update = UserUpdate.model_validate({"email": None, "password": None, "is_active": None, "first_name": "Kay"})

    updated = await kit.manager.update(update, user)

    assert (updated.email, updated.hashed_password, updated.is_active) == ("kay@camelot.bt", old_hash, True)
    assert updated.first_name == "Kay"


async def test_update_password_is_validated_hashed_and_redacted_for_the_hook(kit: Kit) -> None:
    """A new password goes through validate_password, is stored as Argon2id, and the hook sees it redacted."""
    user = await kit.user()
    seen: list[tuple[str, Any]] = []

    async def record(password: str, target: Any) -> None:
        seen.append((password, target))

    updated = await kit.with_policy(record).update(UserUpdate(password=NEW_PASSWORD, first_name="Kay"), user)

    assert seen == [(NEW_PASSWORD, user)]
    assert updated.hashed_password.startswith("$argon2id$")
    assert await kit.login("kay@camelot.bt", NEW_PASSWORD) is user
    assert kit.hooks.last("on_after_update")["update_dict"] == {"password": REDACTED, "first_name": "Kay"}
    assert NEW_PASSWORD not in repr(kit.hooks.calls)


async def test_update_password_refused_by_the_policy_changes_nothing(kit: Kit) -> None:
    """A refused password raises InvalidPasswordException; the old one still works and no hook runs."""
    user = await kit.user()

    with pytest.raises(exceptions.InvalidPasswordException):
        await kit.with_policy(refuse_short).update(UserUpdate(password="short"), user)

    assert await kit.login("kay@camelot.bt", PASSWORD) is user
    assert kit.hooks.calls == []


async def test_update_safe_ignores_privileged_fields(kit: Kit) -> None:
    """safe=True (PATCH /users/me) ignores is_superuser, is_active and is_verified; safe=False applies them."""
    user = await kit.user()
    privileged = UserUpdate(is_superuser=True, is_verified=True, is_active=False)

    await kit.manager.update(privileged, user, safe=True)
    assert (user.is_superuser, user.is_verified, user.is_active) == (False, False, True)

    await kit.manager.update(privileged, user, safe=False)
    assert (user.is_superuser, user.is_verified, user.is_active) == (True, True, False)


async def test_delete_calls_its_hooks_around_the_deletion(kit: Kit) -> None:
    """on_before_delete runs while the user exists, on_after_delete after it is gone."""
    user = await kit.user()
    user_id = user.id
    present_before: list[bool] = []

    class Watching(manager_class(kit.hooks)):  # type: ignore[misc]  # a class built at run time, as apps do
        async def on_before_delete(self, user: User, request: Any = None) -> None:
            present_before.append(await kit.user_db.get(user.id) is not None)
            await super().on_before_delete(user, request)

    await Watching(kit.user_db, fast_password_helper()).delete(user)

    assert kit.hooks.names() == ["on_before_delete", "on_after_delete"]
    assert present_before == [True]
    assert await kit.user_db.get(user_id) is None


# -- authenticate ------------------------------------------------------------------------------


class CountingHelper(PasswordHelper):
    """The fast helper, recording every hash it verifies against."""

    def __init__(self) -> None:
        super().__init__(fast_password_helper().password_hash)
        self.verified_against: list[str] = []

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Record, then verify."""
        self.verified_against.append(hashed_password)
        return super().verify_and_update(plain_password, hashed_password)


async def test_authenticate_with_the_right_password_returns_the_user(kit: Kit) -> None:
    """The right password, with the e-mail in any case, returns the user."""
    user = await kit.user()

    assert await kit.login("KAY@camelot.bt", PASSWORD) is user


async def test_authenticate_with_a_wrong_password_returns_none(kit: Kit) -> None:
    """A wrong password returns None and leaves the hash alone."""
    user = await kit.user()
    old_hash = user.hashed_password

    assert await kit.login("kay@camelot.bt", NEW_PASSWORD) is None
    assert user.hashed_password == old_hash


async def test_authenticate_of_an_unknown_email_runs_a_dummy_verification(kit: Kit) -> None:
    """An unknown e-mail returns None after one verification against an Argon2id hash (same cost)."""
    user = await kit.user()
    helper = CountingHelper()
    manager = manager_class(kit.hooks)(kit.user_db, helper)

    result = await manager.authenticate(OAuth2PasswordRequestForm(username="mordred@camelot.bt", password=PASSWORD))

    assert result is None
    assert len(helper.verified_against) == 1
    dummy = helper.verified_against[0]
    assert dummy.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert dummy != user.hashed_password


async def test_authenticate_upgrades_a_legacy_bcrypt_hash(kit: Kit) -> None:
    """A bcrypt hash (FastAPI Users before 13) verifies, and is replaced by Argon2id."""
    user = await kit.user()
    await kit.user_db.update(user, {"hashed_password": BcryptHasher(rounds=4).hash(PASSWORD)})

    logged_in = await kit.login("kay@camelot.bt", PASSWORD)

    assert logged_in is user
    assert user.hashed_password.startswith("$argon2id$")
    async with AsyncSession(kit.session.bind) as fresh:
        stored = await fresh.scalar(select(User.__table__.c.hashed_password).where(User.__table__.c.id == user.id))
    assert isinstance(stored, str)
    assert stored.startswith("$argon2id$")


async def test_authenticate_with_a_corrupt_hash_returns_none(kit: Kit) -> None:
    """A stored hash no hasher recognises (or a damaged one) reads as a wrong password, never an error."""
    user = await kit.user()

    for corrupt in ("not-a-hash", "$argon2id$v=19$m=1024,t=1,p=1$broken", "$2b$04$short"):
        await kit.user_db.update(user, {"hashed_password": corrupt})
        assert await kit.login("kay@camelot.bt", PASSWORD) is None
        assert user.hashed_password == corrupt


# -- OAuth -------------------------------------------------------------------------------------


async def oauth_login(kit: Kit, account_id: str = "1001", email: str = "kay@provider.bt", **kwargs: Any) -> User:
    """oauth_callback for provider "camelot"."""
    return await kit.manager.oauth_callback("camelot", "access-1", account_id, email, 3600, "refresh-1", **kwargs)


async def accounts(kit: Kit) -> list[tuple[str, str, str]]:
    """Every stored (user e-mail, account id, access token), sorted."""
    result = await kit.session.execute(
        select(User.__table__.c.email, OAuthAccount.__table__.c.account_id, OAuthAccount.__table__.c.access_token)
        .join(OAuthAccount.__table__)
        .order_by(OAuthAccount.__table__.c.account_id)
    )
    return [tuple(row) for row in result.all()]


async def test_oauth_callback_creates_a_user_with_its_account(kit: Kit) -> None:
    """An unknown account and e-mail create an unverified user linked to it, with on_after_register."""
    user = await oauth_login(kit)

    assert (user.email, user.is_verified) == ("kay@provider.bt", False)
    assert [(a.account_id, a.access_token, a.refresh_token, a.expires_at) for a in user.oauth_accounts] == [
        ("1001", "access-1", "refresh-1", 3600)
    ]
    assert kit.hooks.names() == ["on_after_register"]
    assert await kit.login("kay@provider.bt", PASSWORD) is None


async def test_oauth_callback_can_trust_the_providers_verification(kit: Kit) -> None:
    """is_verified_by_default=True creates the user verified."""
    user = await oauth_login(kit, is_verified_by_default=True)

    assert user.is_verified is True


async def test_oauth_callback_for_a_linked_account_refreshes_it(kit: Kit) -> None:
    """A known account logs its user in and updates the tokens in place, without registering anyone."""
    user = await oauth_login(kit)
    kit.hooks.calls.clear()

    again = await kit.manager.oauth_callback("camelot", "access-2", "1001", "kay@provider.bt", 7200, "refresh-2")

    assert again is user
    assert [(a.access_token, a.refresh_token, a.expires_at) for a in user.oauth_accounts] == [
        ("access-2", "refresh-2", 7200)
    ]
    assert await accounts(kit) == [("kay@provider.bt", "1001", "access-2")]
    assert kit.hooks.calls == []


async def test_oauth_callback_refuses_an_existing_email_without_associate_by_email(kit: Kit) -> None:
    """A password user's address with associate_by_email off raises UserAlreadyExists and links nothing."""
    await kit.user("kay@provider.bt")

    with pytest.raises(exceptions.UserAlreadyExists):
        await oauth_login(kit, email="KAY@provider.bt")

    assert await accounts(kit) == []


async def test_oauth_callback_links_an_existing_email_with_associate_by_email(kit: Kit) -> None:
    """With associate_by_email on, the account is added to the user owning the address."""
    user = await kit.user("kay@provider.bt")

    linked = await oauth_login(kit, associate_by_email=True)

    assert linked is user
    assert await accounts(kit) == [("kay@provider.bt", "1001", "access-1")]
    assert await kit.login("kay@provider.bt", PASSWORD) is user


class LegacyUserDatabase(SQLAlchemyUserDatabase[User, uuid.UUID]):
    """An adapter written for FastAPI Users' protocol: it has no create_with_oauth_account."""

    create_with_oauth_account = None  # type: ignore[assignment]  # the method is absent on purpose


async def test_oauth_callback_works_with_an_adapter_without_create_with_oauth_account(kit: Kit) -> None:
    """Without the one-transaction method the manager creates the user, then links the account."""
    legacy = manager_class(kit.hooks)(LegacyUserDatabase(kit.session, User, OAuthAccount), fast_password_helper())

    user = await legacy.oauth_callback("camelot", "access-1", "1001", "kay@provider.bt")

    assert [a.account_id for a in user.oauth_accounts] == ["1001"]
    assert kit.hooks.names() == ["on_after_register"]


async def test_oauth_associate_callback_links_the_account(kit: Kit) -> None:
    """The account is added to the user and on_after_update gets an empty dict."""
    user = await kit.user()

    linked = await kit.manager.oauth_associate_callback(user, "camelot", "access-1", "1001", "kay@provider.bt")

    assert linked is user
    assert [a.account_id for a in user.oauth_accounts] == ["1001"]
    assert kit.hooks.last("on_after_update") == {"user": user, "update_dict": {}}


async def test_oauth_associate_callback_refuses_another_users_account(kit: Kit) -> None:
    """An account linked to someone else raises OAuthAccountAlreadyLinked and stays theirs."""
    owner = await oauth_login(kit)
    intruder = await kit.user("mordred@camelot.bt")
    kit.hooks.calls.clear()

    with pytest.raises(exceptions.OAuthAccountAlreadyLinked):
        await kit.manager.oauth_associate_callback(intruder, "camelot", "stolen", "1001", "mordred@camelot.bt")

    assert intruder.oauth_accounts == []
    assert await kit.manager.get_by_oauth_account("camelot", "1001") is owner
    assert await accounts(kit) == [("kay@provider.bt", "1001", "access-1")]
    assert kit.hooks.calls == []


async def test_oauth_associate_callback_again_refreshes_without_duplicating(kit: Kit) -> None:
    """Associating the same account twice keeps one link, with the newer tokens."""
    user = await kit.user()
    await kit.manager.oauth_associate_callback(user, "camelot", "access-1", "1001", "kay@provider.bt")

    await kit.manager.oauth_associate_callback(user, "camelot", "access-2", "1001", "kay@provider.bt")

    assert await accounts(kit) == [("kay@camelot.bt", "1001", "access-2")]
    assert len(user.oauth_accounts) == 1


async def test_two_users_cannot_end_up_with_one_provider_account(kit: Kit) -> None:
    """Even associating directly through the adapter, the database keeps the account with one user."""
    await oauth_login(kit)
    other = await kit.user("ector@camelot.bt")

    with pytest.raises(exceptions.OAuthAccountAlreadyLinked):
        await kit.user_db.add_oauth_account(
            other, {"oauth_name": "camelot", "access_token": "x", "account_id": "1001", "account_email": "e@p.bt"}
        )

    count = await kit.session.scalar(select(func.count()).select_from(OAuthAccount.__table__))
    assert count == 1


# -- id parsing ----------------------------------------------------------------------------------

NOT_STRINGS = (
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True)
    | st.integers()
    | st.binary()
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)


@given(NOT_STRINGS)
def test_uuid_parse_id_refuses_anything_but_uuids_and_strings(value: object) -> None:
    """None, numbers, booleans, bytes and containers raise InvalidID, never another exception."""
    with pytest.raises(exceptions.InvalidID):
        UUIDIDMixin().parse_id(value)


@given(st.text())
def test_uuid_parse_id_of_any_text_is_a_uuid_or_invalid_id(text: str) -> None:
    """Any text either parses to the UUID it spells or raises InvalidID."""
    try:
        parsed = UUIDIDMixin().parse_id(text)
    except exceptions.InvalidID:
        return
    assert parsed == uuid.UUID(text)


@given(st.uuids())
def test_uuid_parse_id_round_trips_valid_values(value: uuid.UUID) -> None:
    """A UUID, its canonical string and its hex string all parse to the same UUID."""
    parse = UUIDIDMixin().parse_id

    assert parse(value) is value
    assert parse(str(value)) == value
    assert parse(value.hex) == value


@given(st.none() | st.booleans() | st.floats(allow_nan=True) | st.binary() | st.uuids() | st.lists(st.integers()))
def test_integer_parse_id_refuses_non_integers(value: object) -> None:
    """None, booleans, floats (even 1.0), bytes, UUIDs and containers raise InvalidID."""
    with pytest.raises(exceptions.InvalidID):
        IntegerIDMixin().parse_id(value)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_integer_parse_id_round_trips_int64(value: int) -> None:
    """Every signed 64-bit integer, and its decimal string, parses to itself."""
    parse = IntegerIDMixin().parse_id

    assert parse(value) == value
    assert parse(str(value)) == value


@given(st.integers(min_value=2**63) | st.integers(max_value=-(2**63) - 1))
def test_integer_parse_id_refuses_integers_no_database_can_hold(value: int) -> None:
    """Integers outside int64 (as int or string) raise InvalidID instead of a driver error later."""
    parse = IntegerIDMixin().parse_id

    with pytest.raises(exceptions.InvalidID):
        parse(value)
    with pytest.raises(exceptions.InvalidID):
        parse(str(value))


@given(st.text())
def test_integer_parse_id_of_any_text_is_an_int64_or_invalid_id(text: str) -> None:
    """Any text either parses to the int64 it spells or raises InvalidID, never another exception."""
    try:
        parsed = IntegerIDMixin().parse_id(text)
    except exceptions.InvalidID:
        return
    assert parsed == int(text)
    assert -(2**63) <= parsed < 2**63


def test_integer_parse_id_refuses_a_string_too_long_to_convert() -> None:
    """A string of digits beyond Python's conversion limit is InvalidID, not ValueError."""
    with pytest.raises(exceptions.InvalidID):
        IntegerIDMixin().parse_id("9" * 5000)


# -- defaults: password policy, size guard, hooks ------------------------------------------------


class PlainManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """A UserManager with only its secrets set: the library's default policy and hooks."""

    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


class NoPolicyManager(PlainManager):
    """password_policy = None: no default rules and no size guard."""

    password_policy = None


async def test_default_validate_password_applies_the_policy(kit: Kit) -> None:
    """Without an override, validate_password refuses a short password and accepts a good one."""
    manager = PlainManager(kit.user_db, fast_password_helper())

    with pytest.raises(exceptions.InvalidPasswordException):
        await manager.create(UserCreate(email="kay@camelot.bt", password="short"))
    user = await manager.create(UserCreate(email="kay@camelot.bt", password=PASSWORD))

    assert await kit.login("kay@camelot.bt", PASSWORD) is user


async def test_password_policy_none_accepts_any_password(kit: Kit) -> None:
    """password_policy = None turns the default rules and the size guard off."""
    manager = NoPolicyManager(kit.user_db, fast_password_helper())

    user = await manager.create(UserCreate(email="kay@camelot.bt", password="x"))
    updated = await manager.update(UserUpdate(password="y" * 2000), user)

    assert (
        await manager.authenticate(OAuth2PasswordRequestForm(username="kay@camelot.bt", password="y" * 2000)) is updated
    )


async def test_oversized_passwords_are_refused_before_hashing(kit: Kit) -> None:
    """Past the policy's byte cap, create and update refuse and login fails without any hashing."""
    user = await kit.user()
    helper = CountingHelper()
    manager = manager_class(kit.hooks)(kit.user_db, helper)
    huge = "x" * 5000

    with pytest.raises(exceptions.InvalidPasswordException):
        await manager.create(UserCreate(email="ector@camelot.bt", password=huge))
    with pytest.raises(exceptions.InvalidPasswordException):
        await manager.update(UserUpdate(password=huge), user)
    login = await manager.authenticate(OAuth2PasswordRequestForm(username="kay@camelot.bt", password=huge))

    assert login is None
    assert helper.verified_against == []


async def test_default_hooks_do_nothing(kit: Kit) -> None:
    """Every flow runs with the library's own hooks, which do nothing without a mailer."""
    manager = PlainManager(kit.user_db, fast_password_helper())
    user = await manager.create(UserCreate(email="kay@camelot.bt", password=PASSWORD))

    await manager.request_verify(user)
    await manager.forgot_password(user)
    await manager.update(UserUpdate(password=NEW_PASSWORD), user)
    await manager.on_after_login(user)
    await manager.on_after_verify(user)
    await manager.on_after_reset_password(user)
    await manager.delete(user)

    assert await kit.user_db.get_by_email("kay@camelot.bt") is None


async def test_oauth_callback_refreshes_the_right_one_of_several_accounts(kit: Kit) -> None:
    """A user linked to two providers logs in with the second; only that account is refreshed."""
    user = await oauth_login(kit, account_id="1001")
    await kit.manager.oauth_associate_callback(user, "avalon", "access-a", "2002", "kay@avalon.bt")

    again = await kit.manager.oauth_callback("avalon", "access-b", "2002", "kay@avalon.bt")

    assert again is user
    assert sorted((a.oauth_name, a.access_token) for a in user.oauth_accounts) == [
        ("avalon", "access-b"),
        ("camelot", "access-1"),
    ]
