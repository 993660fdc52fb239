"""The default password policy (NIST SP 800-63B, ASVS 5.0 6.2): cases T01-T07, over HTTP and in the manager."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

import pytest
from fastapi.security import OAuth2PasswordRequestForm

from fastapi_userkit import InvalidPasswordException
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.password import PasswordHelper
from fastapi_userkit.security import DEFAULT_PASSWORD_POLICY, PasswordPolicy, load_common_passwords
from tests.app_factory import HookLog, UserCreate, fast_password_helper, make_user_manager_class
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User
from tests.security.events_support import app_for, client_for, login, register

POLICY = PasswordPolicy()
EMAIL = "percival@camelot.bt"


class CountingHelper(PasswordHelper):
    """The fast test helper, counting the hashes and verifications it performs."""

    def __init__(self) -> None:
        super().__init__(fast_password_helper().password_hash)
        self.calls = 0

    def hash(self, password: str) -> str:
        """Hash and count."""
        self.calls += 1
        return super().hash(password)

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Verify and count."""
        self.calls += 1
        return super().verify_and_update(plain_password, hashed_password)


def reason_of(password: str, email: str | None = EMAIL, policy: PasswordPolicy = POLICY) -> str:
    """The reason ``policy`` gives for refusing ``password``."""
    with pytest.raises(InvalidPasswordException) as excinfo:
        policy.check(password, email=email)
    return str(excinfo.value.reason)


# -- the policy on its own ------------------------------------------------------------------------


def test_minimum_length_is_eight_code_points() -> None:
    """T01: seven characters are refused with a sentence, eight are accepted."""
    reason = reason_of("zq7-wmx")

    POLICY.check("zq7-wmxk", email=EMAIL)
    assert reason == "The password must be at least 8 characters long."


def test_length_counts_code_points_not_bytes() -> None:
    """T04: eight emoji (32 bytes) pass, seven do not."""
    POLICY.check("\U0001f511" * 8, email=EMAIL)

    assert "at least 8" in reason_of("\U0001f511" * 7)


def test_long_passwords_up_to_the_byte_cap_pass() -> None:
    """T02: 64 and 128 characters pass; one byte over the 1,024-byte cap does not."""
    POLICY.check("v" * 63 + "x", email=EMAIL)
    POLICY.check("v" * 127 + "x", email=EMAIL)
    POLICY.check("v" * 1023 + "x", email=EMAIL)

    assert reason_of("v" * 1025) == "The password must be at most 1024 bytes long."


def test_byte_cap_counts_utf8_bytes() -> None:
    """T02: 257 four-byte emoji (1,028 bytes) exceed the cap although they are 257 characters."""
    assert POLICY.exceeds_max_bytes("\U0001f511" * 257)
    assert not POLICY.exceeds_max_bytes("\U0001f511" * 256)


def test_no_composition_rules() -> None:
    """T03: a lowercase passphrase with no digit or symbol passes."""
    POLICY.check("correct horse battery staple", email=EMAIL)


@pytest.mark.parametrize("password", ["password1", "Password1", "ILOVEYOU", "trustno1", "  baseball  "])
def test_common_passwords_are_refused(password: str) -> None:
    """T06: common passwords are refused whatever their case or surrounding spaces."""
    assert "most commonly used" in reason_of(password)


def test_common_list_holds_ten_thousand_entries_the_policy_can_see() -> None:
    """T06: the shipped list has over 10,000 entries of at least the default 8 characters."""
    common = load_common_passwords()

    assert sum(len(entry) >= DEFAULT_PASSWORD_POLICY.min_length for entry in common) >= 10_000
    assert load_common_passwords() is common  # read once, then cached


def test_common_check_can_be_turned_off() -> None:
    """T06: ``check_common=False`` accepts a listed password."""
    PasswordPolicy(check_common=False).check("password1", email=EMAIL)


@pytest.mark.parametrize("password", ["percival-rides", "xPERCIVALx2024", "my\uff50ercival!"])
def test_email_local_part_is_refused(password: str) -> None:
    """T07: a password containing the e-mail's local part (any case, full-width too) is refused."""
    assert reason_of(password) == "The password must not contain your e-mail address."


def test_short_local_parts_and_disabled_check_do_not_refuse() -> None:
    """T07: a local part under 3 characters is not looked for, nor any with ``check_email=False``."""
    POLICY.check("bo-and-friends", email="bo@camelot.bt")
    PasswordPolicy(check_email=False).check("percival-rides", email=EMAIL)


def test_context_words_are_refused() -> None:
    """T07: an application word (the service's name) is refused."""
    policy = PasswordPolicy(context_words=("Camelot",))

    assert reason_of("my-camelot-pass", policy=policy) == "The password must not contain the name of this service."


def test_lone_surrogates_are_refused() -> None:
    """A password with a lone surrogate (valid JSON, invalid Unicode) is refused, not hashed."""
    assert reason_of("abcdefgh\ud800") == "The password contains characters that are not valid Unicode."


@pytest.mark.parametrize(
    "kwargs",
    [{"min_length": 0}, {"min_length": 65}, {"max_bytes": 255}, {"min_context_length": 0}],
)
def test_misconfiguration_fails_at_construction(kwargs: dict[str, Any]) -> None:
    """A minimum outside 1-64, a cap under 256 bytes or an empty context length is refused."""
    with pytest.raises(ConfigurationError):
        PasswordPolicy(**kwargs)


# -- through HTTP (SQLite and PostgreSQL) ----------------------------------------------------------


async def test_register_refusals_keep_the_contract_shape(http_db: SessionMaker) -> None:
    """T01/T06/T07: register answers 400 REGISTER_INVALID_PASSWORD with the reason sentence."""
    test_app = app_for(http_db, password_policy=POLICY)
    async with client_for(test_app.app) as client:
        short = await register(client, EMAIL, "zq7-wmx")
        common = await register(client, EMAIL, "Password1")
        local = await register(client, EMAIL, "Percival1234")
        exact = await register(client, EMAIL, "zq7-wmxk")

    assert short.status_code == common.status_code == local.status_code == 400
    assert short.json() == {
        "detail": {"code": "REGISTER_INVALID_PASSWORD", "reason": "The password must be at least 8 characters long."}
    }
    assert common.json()["detail"]["code"] == "REGISTER_INVALID_PASSWORD"
    assert local.json()["detail"]["reason"] == "The password must not contain your e-mail address."
    assert exact.status_code == 201


async def test_long_passwords_register_and_verify_without_truncation(http_db: SessionMaker) -> None:
    """T02: 64 and 128 characters register; changing only the 73rd character fails the login."""
    test_app = app_for(http_db, password_policy=POLICY)
    password_128 = "".join(chr(ord("a") + index % 26) for index in range(128))
    altered_73rd = password_128[:72] + "#" + password_128[73:]
    async with client_for(test_app.app) as client:
        created_64 = await register(client, "lamorak@camelot.bt", password_128[:64])
        created_128 = await register(client, EMAIL, password_128)
        right = await login(client, EMAIL, password_128)
        wrong = await login(client, EMAIL, altered_73rd)
        over = await register(client, "gareth@camelot.bt", "k" * 1025)

    assert (created_64.status_code, created_128.status_code, right.status_code) == (201, 201, 200)
    assert wrong.status_code == 400
    assert wrong.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}
    assert over.status_code == 400
    assert over.json()["detail"]["reason"] == "The password must be at most 1024 bytes long."


async def test_over_long_login_gets_bad_credentials(http_db: SessionMaker) -> None:
    """T02: a login password over the byte cap gets the bad-credentials answer, like a wrong one."""
    test_app = app_for(http_db, password_policy=POLICY)
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, "quest-for-the-grail")
        over = await login(client, EMAIL, "q" * 5000)
        wrong = await login(client, EMAIL, "quest-for-the-grai")

    assert over.status_code == wrong.status_code == 400
    assert over.json() == wrong.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}


async def test_unicode_and_both_normal_forms_log_in(http_db: SessionMaker) -> None:
    """T04: an emoji password works, and a password registered in NFC logs in with its NFD form."""
    test_app = app_for(http_db, password_policy=POLICY)
    nfc = unicodedata.normalize("NFC", "Brünhilde-Señora-Øresund")
    nfd = unicodedata.normalize("NFD", nfc)
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, nfc)
        await register(client, "dagonet@camelot.bt", "\U0001f5dd\U0001f3f0\U0001f409\U0001f451" * 2)
        by_nfd = await login(client, EMAIL, nfd)
        by_nfc = await login(client, EMAIL, nfc)
        emoji = await login(client, "dagonet@camelot.bt", "\U0001f5dd\U0001f3f0\U0001f409\U0001f451" * 2)

    assert nfd != nfc
    assert (by_nfd.status_code, by_nfc.status_code, emoji.status_code) == (200, 200, 200)


async def test_case_and_spaces_are_significant(http_db: SessionMaker) -> None:
    """T05: another case, or stripped surrounding spaces, is another password."""
    test_app = app_for(http_db, password_policy=POLICY)
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, "Tr0ub4dor&3x")
        await register(client, "bors@camelot.bt", "  spaced out pass  ")
        other_case = await login(client, EMAIL, "tr0ub4dor&3x")
        stripped = await login(client, "bors@camelot.bt", "spaced out pass")
        exact = await login(client, "bors@camelot.bt", "  spaced out pass  ")

    assert other_case.status_code == stripped.status_code == 400
    assert exact.status_code == 200


async def test_update_and_reset_answer_their_own_codes(http_db: SessionMaker) -> None:
    """T01/T06: PATCH /users/me and /reset-password refuse with the UPDATE_ and RESET_ codes."""
    test_app = app_for(http_db, password_policy=POLICY)
    async with client_for(test_app.app) as client:
        await register(client, EMAIL, "quest-for-the-grail")
        token = (await login(client, EMAIL, "quest-for-the-grail")).json()["access_token"]
        patched = await client.patch(
            "/users/me", json={"password": "short"}, headers={"Authorization": f"Bearer {token}"}
        )
        await client.post("/auth/forgot-password", json={"email": EMAIL})
        reset_token = test_app.hooks.last("on_after_forgot_password")["token"]
        reset = await client.post("/auth/reset-password", json={"token": reset_token, "password": "iloveyou"})

    assert patched.status_code == 400
    assert patched.json()["detail"]["code"] == "UPDATE_USER_INVALID_PASSWORD"
    assert reset.status_code == 400
    assert reset.json()["detail"] == {
        "code": "RESET_PASSWORD_INVALID_PASSWORD",
        "reason": "The password is one of the most commonly used passwords. Please choose a less common one.",
    }


async def test_an_app_override_keeps_its_own_rules(http_db: SessionMaker) -> None:
    """An app that overrides ``validate_password`` (here: accepts anything) is not given the default rules."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        created = await register(client, EMAIL, "abc")
        logged_in = await login(client, EMAIL, "abc")

    assert (created.status_code, logged_in.status_code) == (201, 200)


# -- in the manager ------------------------------------------------------------------------------


def manager_for(session: Any, helper: PasswordHelper, policy: PasswordPolicy | None = POLICY) -> Any:
    """A manager on ``session`` with the library's default ``validate_password`` and ``policy``."""
    manager_class = make_user_manager_class(HookLog(), policy=policy or POLICY)
    manager_class.password_policy = policy
    return manager_class(SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount), helper)


def credentials(email: str, password: str) -> OAuth2PasswordRequestForm:
    """A login form."""
    return OAuth2PasswordRequestForm(username=email, password=password)


async def test_manager_refuses_an_over_long_login_without_hashing(http_db: SessionMaker) -> None:
    """T02: ``authenticate`` returns None for an over-long password before any hash or lookup."""
    helper = CountingHelper()
    async with http_db() as session:
        manager = manager_for(session, helper)
        await manager.create(_create(EMAIL, "quest-for-the-grail"))
        before = helper.calls
        result = await manager.authenticate(credentials(EMAIL, "q" * 2048))

    assert result is None
    assert helper.calls == before


async def test_manager_without_policy_accepts_anything(http_db: SessionMaker) -> None:
    """``password_policy = None`` turns the default checks and the byte cap off."""
    async with http_db() as session:
        manager = manager_for(session, fast_password_helper(), policy=None)
        user = await manager.create(_create(EMAIL, "p" * 2000))
        found = await manager.authenticate(credentials(EMAIL, "p" * 2000))

    assert found is not None
    assert found.id == user.id


async def test_cap_applies_even_with_an_app_override(http_db: SessionMaker) -> None:
    """The byte cap protects the hasher even when the app overrides ``validate_password``."""
    test_app = app_for(http_db)
    async with client_for(test_app.app) as client:
        response = await register(client, EMAIL, "p" * 1025)

    assert response.status_code == 400
    assert response.json()["detail"]["code"] == "REGISTER_INVALID_PASSWORD"


async def test_legacy_unnormalised_hash_logs_in_and_is_upgraded(http_db: SessionMaker) -> None:
    """T04: a hash of the raw NFD form (made before normalisation) verifies and is replaced by the NFKC one."""
    helper = fast_password_helper()
    nfd = unicodedata.normalize("NFD", "Brünhilde-Señora")
    async with http_db() as session:
        manager = manager_for(session, helper)
        legacy = await manager.user_db.create({"email": EMAIL, "hashed_password": helper.hash(nfd)})
        legacy_hash = legacy.hashed_password
        by_nfd = await manager.authenticate(credentials(EMAIL, nfd))
        by_nfc = await manager.authenticate(credentials(EMAIL, unicodedata.normalize("NFC", nfd)))

    assert by_nfd is not None
    assert by_nfc is not None
    assert by_nfc.hashed_password != legacy_hash
    assert helper.verify_and_update(unicodedata.normalize("NFKC", nfd), by_nfc.hashed_password)[0]


def _create(email: str, password: str) -> UserCreate:
    return UserCreate(email=email, password=password)
