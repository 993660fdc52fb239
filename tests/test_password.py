"""PasswordHelper and the worker-thread hashing functions."""

from __future__ import annotations

import string
import threading

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from fastapi_userkit.exceptions import InvalidPasswordException
from fastapi_userkit.password import (
    PasswordHelper,
    PasswordHelperProtocol,
    dummy_hash,
    hash_password,
    verify_and_update_password,
)
from tests.app_factory import fast_password_helper

PASSWORD = "grail-quest-1191"


def argon2_helper(memory_cost: int) -> PasswordHelper:
    """A cheap Argon2id helper with the given memory cost (KiB)."""
    return PasswordHelper(PasswordHash((Argon2Hasher(time_cost=1, memory_cost=memory_cost, parallelism=1),)))


class ThreadRecordingHelper(PasswordHelper):
    """The fast helper, recording the thread each call runs in."""

    def __init__(self) -> None:
        super().__init__(fast_password_helper().password_hash)
        self.threads: list[int] = []

    def hash(self, password: str) -> str:
        """Record, then hash."""
        self.threads.append(threading.get_ident())
        return super().hash(password)

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Record, then verify."""
        self.threads.append(threading.get_ident())
        return super().verify_and_update(plain_password, hashed_password)


class PlainHelper:
    """A helper of the application's own that only satisfies the protocol (not a PasswordHelper)."""

    def __init__(self) -> None:
        self.inner = fast_password_helper()
        self.hashed = 0

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Delegate."""
        return self.inner.verify_and_update(plain_password, hashed_password)

    def hash(self, password: str) -> str:
        """Count, then delegate."""
        self.hashed += 1
        return self.inner.hash(password)

    def generate(self) -> str:
        """Delegate."""
        return self.inner.generate()


def test_default_helper_makes_argon2id_hashes_with_fastapi_users_parameters() -> None:
    """New hashes are Argon2id m=64 MiB, t=3, p=4 (what FastAPI Users makes), and verify."""
    helper = PasswordHelper()

    hashed = helper.hash(PASSWORD)

    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert helper.verify_and_update(PASSWORD, hashed) == (True, None)


def test_wrong_password_does_not_verify() -> None:
    """A wrong password gives (False, None)."""
    helper = fast_password_helper()

    assert helper.verify_and_update("not-the-password", helper.hash(PASSWORD)) == (False, None)


def test_bcrypt_hash_verifies_and_asks_for_an_upgrade() -> None:
    """A bcrypt hash verifies, and the new hash offered is Argon2id."""
    helper = fast_password_helper()
    legacy = BcryptHasher(rounds=4).hash(PASSWORD)

    verified, new_hash = helper.verify_and_update(PASSWORD, legacy)

    assert verified is True
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$")
    assert helper.verify_and_update(PASSWORD, new_hash) == (True, None)


def test_argon2_hash_with_other_parameters_asks_for_a_rehash() -> None:
    """A hash with weaker parameters verifies and is flagged for replacement."""
    weak = argon2_helper(512).hash(PASSWORD)

    verified, new_hash = argon2_helper(1024).verify_and_update(PASSWORD, weak)

    assert verified is True
    assert new_hash is not None
    assert "m=1024," in new_hash


@pytest.mark.parametrize(
    "corrupt",
    ["", "not-a-hash", "$argon2id$v=19$m=1024,t=1,p=1$broken", "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$", "$2b$04$x"],
)
def test_corrupt_hash_reads_as_a_wrong_password(corrupt: str) -> None:
    """A hash string no hasher can use gives (False, None), never an exception."""
    assert fast_password_helper().verify_and_update(PASSWORD, corrupt) == (False, None)


def test_long_password_of_a_legacy_bcrypt_hash_verifies_and_is_upgraded() -> None:
    """A password over bcrypt's 72 bytes, hashed truncated by passlib, still logs in and moves to Argon2id."""
    long_password = "the-air-speed-velocity-of-an-unladen-swallow-" * 3
    legacy = BcryptHasher(rounds=4).hash(long_password.encode()[:72])
    helper = fast_password_helper()

    verified, new_hash = helper.verify_and_update(long_password, legacy)

    assert verified is True
    assert new_hash is not None
    assert helper.verify_and_update(long_password, new_hash) == (True, None)
    assert helper.verify_and_update(long_password[:72], new_hash) == (False, None)


@pytest.mark.parametrize(
    ("password", "hashed"),
    [
        ("x" * 100, BcryptHasher(rounds=4).hash(b"y" * 72)),
        ("x" * 100, "$2b$04$corrupt"),
        ("x" * 100, "not-a-hash"),
        ("\udc80" * 100, BcryptHasher(rounds=4).hash(b"y" * 72)),
        ("a" * 72 + "\udc80", BcryptHasher(rounds=4).hash(b"a" * 72)),
    ],
    ids=["other-password", "corrupt-bcrypt", "not-a-hash", "surrogates", "surrogate-after-72-bytes"],
)
def test_long_password_that_does_not_match_reads_as_wrong(password: str, hashed: str) -> None:
    """Past 72 bytes, a different prefix, a corrupt hash or undecodable text gives (False, None)."""
    assert fast_password_helper().verify_and_update(password, hashed) == (False, None)


def test_long_password_is_only_truncated_for_bcrypt_hashes() -> None:
    """Only bcrypt hashes get the 72-byte rule; a helper without bcrypt refuses the legacy hash."""
    long_password = "x" * 100
    legacy = BcryptHasher(rounds=4).hash(long_password.encode()[:72])

    assert argon2_helper(1024).verify_and_update(long_password, legacy) == (False, None)


def test_generate_returns_distinct_url_safe_passwords() -> None:
    """generate() gives 43 URL-safe characters (256 bits), different each time."""
    helper = PasswordHelper()
    generated = {helper.generate() for _ in range(20)}

    assert len(generated) == 20
    assert all(len(p) == 43 and set(p) <= set(string.ascii_letters + string.digits + "-_") for p in generated)


async def test_hashing_and_verifying_run_in_worker_threads() -> None:
    """hash_password and verify_and_update_password never run the hasher on the event-loop thread."""
    helper = ThreadRecordingHelper()
    loop_thread = threading.get_ident()

    hashed = await hash_password(helper, PASSWORD)
    verified = await verify_and_update_password(helper, PASSWORD, hashed)

    assert verified == (True, None)
    assert len(helper.threads) == 2
    assert loop_thread not in helper.threads


async def test_hash_password_refuses_text_no_hasher_can_encode() -> None:
    """A lone surrogate (possible through JSON escapes) raises InvalidPasswordException, not an encoding error."""
    helper = ThreadRecordingHelper()

    with pytest.raises(InvalidPasswordException) as refused:
        await hash_password(helper, "grail\udc80quest")

    assert "invalid characters" in str(refused.value.reason)
    assert helper.threads == []


async def test_dummy_hash_is_made_once_per_parameter_set() -> None:
    """Helpers with the same parameters share one dummy hash; other parameters get their own."""
    first = await dummy_hash(argon2_helper(2048))
    again = await dummy_hash(argon2_helper(2048))
    other = await dummy_hash(argon2_helper(4096))

    assert again == first
    assert "m=2048," in first
    assert "m=4096," in other


async def test_dummy_hash_of_a_protocol_helper_is_made_once_per_class() -> None:
    """Protocol helpers made per request hash one random password, at the first use, and every instance reuses it."""

    class PerRequestHelper(PlainHelper):
        """A helper class of its own, so no earlier test has filled its cache."""

    helper, other = PerRequestHelper(), PerRequestHelper()

    first = await dummy_hash(helper)
    second = await dummy_hash(helper)
    others = await dummy_hash(other)

    assert first == second == others
    assert (helper.hashed, other.hashed) == (1, 0)


class CountingSubclass(PasswordHelper):
    """A PasswordHelper subclass with cheap parameters of its own, counting its hashes."""

    hashed = 0

    def __init__(self) -> None:
        super().__init__(argon2_helper(1536).password_hash)

    def hash(self, password: str) -> str:
        """Count (per class), then hash."""
        CountingSubclass.hashed += 1
        return super().hash(password)


async def test_dummy_hash_of_a_subclass_is_shared_by_its_instances() -> None:
    """Instances of a PasswordHelper subclass made per request share one dummy hash per parameter set."""
    before = CountingSubclass.hashed

    first = await dummy_hash(CountingSubclass())
    second = await dummy_hash(CountingSubclass())

    assert second == first
    assert "m=1536," in first
    assert CountingSubclass.hashed - before <= 1


class PepperedHelper(PasswordHelper):
    """A subclass writing its own hash format, which its Argon2 hasher does not recognise."""

    def __init__(self) -> None:
        super().__init__(argon2_helper(1024).password_hash)
        self.hashed = 0

    def hash(self, password: str) -> str:
        """Count, then prefix the Argon2 hash with a marker of the app's own format."""
        self.hashed += 1
        return "pepper1" + super().hash(password)


async def test_dummy_hash_in_a_format_of_its_own_is_kept_per_helper() -> None:
    """A subclass hash its hasher cannot identify is not shared by the class; its helper object reuses it."""
    helper, other = PepperedHelper(), PepperedHelper()

    first = await dummy_hash(helper)
    again = await dummy_hash(helper)
    others = await dummy_hash(other)

    assert first == again
    assert first.startswith("pepper1$argon2id$")
    assert others != first
    assert (helper.hashed, other.hashed) == (1, 1)


class SlottedHelper:
    """A protocol helper that cannot be weakly referenced (``__slots__`` without ``__weakref__``)."""

    __slots__ = ("hashed", "inner")

    def __init__(self) -> None:
        self.inner = fast_password_helper()
        self.hashed = 0

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Delegate."""
        return self.inner.verify_and_update(plain_password, hashed_password)

    def hash(self, password: str) -> str:
        """Count, then delegate."""
        self.hashed += 1
        return self.inner.hash(password)

    def generate(self) -> str:
        """Delegate."""
        return self.inner.generate()

    __hash__ = None  # type: ignore[assignment]  # unhashable too, like a dataclass with eq=True


async def test_dummy_hash_of_a_helper_that_cannot_be_a_weak_key_is_kept_by_its_class() -> None:
    """An unhashable helper (like a dataclass with ``eq=True``) reuses its class's dummy hash: one Argon2 run in all."""

    class UnhashableHelper(SlottedHelper):
        """A class of its own, so no earlier test has filled its cache."""

        __slots__ = ()

    helper, other = UnhashableHelper(), UnhashableHelper()

    first = await dummy_hash(helper)
    second = await dummy_hash(helper)
    others = await dummy_hash(other)

    assert first == second == others
    assert (helper.hashed, other.hashed) == (1, 0)
    assert await verify_and_update_password(helper, PASSWORD, first) == (False, None)


def test_protocol_is_satisfied_by_an_application_helper() -> None:
    """An application's own helper type-checks as a PasswordHelperProtocol."""
    helper: PasswordHelperProtocol = PlainHelper()

    assert helper.verify_and_update(PASSWORD, helper.hash(PASSWORD)) == (True, None)


def test_default_hashers_are_built_once_and_a_custom_one_is_kept() -> None:
    """Helpers made per request share the default Argon2id + bcrypt set; a configured one is used as given."""
    first, second = PasswordHelper(), PasswordHelper()
    assert first.password_hash is second.password_hash
    custom = PasswordHash((BcryptHasher(rounds=4),))
    helper = PasswordHelper(custom)
    assert helper.password_hash is custom
    assert helper.hash("correct horse battery").startswith("$2b$04$")
