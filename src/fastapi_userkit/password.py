"""Password hashing with pwdlib, and the thread limiter that keeps it off the event loop.

New hashes are Argon2id with pwdlib's defaults (the parameters FastAPI Users uses, so hashes
move between the two libraries). Bcrypt hashes still verify and are flagged for upgrade, so a
user who logs in is moved to Argon2id (django.contrib.auth's "hash upgrade on login").

Argon2id costs ~0.1-0.2 s of CPU and 64 MiB per call. Running it inside ``async def`` would
stall every other request for that long (FastAPI Users' behaviour, contract section 4.7); the
manager therefore calls :func:`hash_password` and :func:`verify_and_update_password`, which run
the work in a worker thread bounded by a :class:`anyio.CapacityLimiter`. Argon2 releases the GIL,
so the threads use every core.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import weakref
from typing import ClassVar, Protocol

import anyio
import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from fastapi_userkit.exceptions import InvalidPasswordException

__all__ = [
    "PasswordHelper",
    "PasswordHelperProtocol",
    "dummy_hash",
    "hash_password",
    "verify_and_update_password",
]


class PasswordHelperProtocol(Protocol):
    """What the manager needs from a password helper."""

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Check a password; return (valid, new hash if the stored one should be upgraded)."""
        ...  # pragma: no cover - protocol

    def hash(self, password: str) -> str:
        """Hash a password."""
        ...  # pragma: no cover - protocol

    def generate(self) -> str:
        """Generate a random password."""
        ...  # pragma: no cover - protocol


_BCRYPT_MAX_BYTES = 72


@functools.cache
def _default_password_hash() -> PasswordHash:
    """The default Argon2id + bcrypt :class:`PasswordHash`, built once.

    A user manager, and so a helper, is usually created per request; the hashers hold only their
    parameters, so one instance serves them all (building it cost ~35 µs per request).
    """
    return PasswordHash((Argon2Hasher(), BcryptHasher()))


class PasswordHelper(PasswordHelperProtocol):
    """Argon2id for new hashes, bcrypt accepted and upgraded.

    Args:
        password_hash: A configured :class:`pwdlib.PasswordHash`; the first hasher makes new hashes.
    """

    # Hashes of random passwords for unknown-user logins, one per class and parameter set in
    # use. Shared by every instance of a class, as helpers are often created per request; kept
    # per class, since a subclass may hash and verify in its own format.
    _dummy_hashes: ClassVar[dict[type[PasswordHelper], list[str]]] = {}

    def __init__(self, password_hash: PasswordHash | None = None) -> None:
        self.password_hash = password_hash or _default_password_hash()

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        """Check ``plain_password`` against ``hashed_password``.

        Returns:
            ``(valid, new_hash)``; ``new_hash`` is set when the stored hash uses an old
            algorithm or weaker parameters and should be replaced.
        """
        try:
            return self.password_hash.verify_and_update(plain_password, hashed_password)
        except Exception:  # noqa: BLE001 - a corrupt or foreign hash string must read as "wrong password"
            return self._verify_long_bcrypt_password(plain_password, hashed_password)

    def _verify_long_bcrypt_password(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        # bcrypt only ever used a password's first 72 bytes, and passlib (FastAPI Users < 13)
        # truncated silently; bcrypt >= 5 raises instead, which would lock out every legacy user
        # with a longer password. Verify what bcrypt hashed, then upgrade to the full password.
        encoded = plain_password.encode("utf-8", "surrogatepass")
        for hasher in self.password_hash.hashers:
            if isinstance(hasher, BcryptHasher) and len(encoded) > _BCRYPT_MAX_BYTES:
                try:
                    if hasher.identify(hashed_password) and hasher.verify(encoded[:_BCRYPT_MAX_BYTES], hashed_password):
                        return True, self.hash(plain_password)
                except Exception:  # noqa: BLE001 - a corrupt hash still reads as "wrong password"
                    return False, None
        return False, None

    def hash(self, password: str) -> str:
        """Hash ``password`` with the preferred hasher (Argon2id)."""
        return self.password_hash.hash(password)

    def generate(self) -> str:
        """Return a random password with 256 bits of entropy."""
        return secrets.token_urlsafe()

    def dummy_hash(self) -> str:
        """Return a hash of a random password made with this helper's current parameters.

        Verifying against it costs what verifying a real user's password costs, which is the
        point: an unknown e-mail at login must take as long as a wrong password (ASVS 5.0
        6.3.8). The hash is made once per parameter set and reused, so a helper with other
        parameters (cheaper or dearer) never reuses one that would make its timing differ.
        A subclass whose :meth:`hash` writes a format its hasher does not recognise gets a fresh
        hash, not kept here (:func:`dummy_hash` keeps it per helper object instead).
        """
        hasher = self.password_hash.current_hasher
        cache = PasswordHelper._dummy_hashes.setdefault(type(self), [])
        for cached in cache:
            if hasher.identify(cached) and not hasher.check_needs_rehash(cached):
                return cached
        fresh = self.hash(secrets.token_urlsafe())
        if hasher.identify(fresh) and not hasher.check_needs_rehash(fresh):
            cache.append(fresh)
        return fresh


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity (macOS, Windows)
        return os.cpu_count() or 1


# One limiter for the whole process: the CPU and memory it protects are process-wide, while
# managers are created per request. One thread per usable core keeps every core busy hashing
# (Argon2 releases the GIL) while a login storm holds at most that many 64 MiB Argon2 buffers;
# more threads would only add memory, not throughput (measured in bench/RESULTS.md).
_HASH_LIMITER = anyio.CapacityLimiter(_usable_cores())


async def hash_password(helper: PasswordHelperProtocol, password: str) -> str:
    """Hash ``password`` in a worker thread.

    Raises:
        InvalidPasswordException: The password is not valid Unicode text (a lone surrogate,
            which JSON's ``\\ud800`` escapes allow but no hasher can encode).
    """
    try:
        password.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidPasswordException(reason="The password contains invalid characters.") from exc
    return await anyio.to_thread.run_sync(helper.hash, password, limiter=_HASH_LIMITER)


# The dummy hash of each helper object, made at its first unknown-user login. Weak keys: a
# helper made per request is forgotten with its request.
_DUMMY_HASH_BY_HELPER: weakref.WeakKeyDictionary[PasswordHelperProtocol, str] = weakref.WeakKeyDictionary()
# And of each helper class, for helpers made per request or that cannot be weak keys (an unhashable
# dataclass): instances of one class are taken to share its parameters, as they do when an app
# builds its helper in a dependency.
_DUMMY_HASH_BY_CLASS: dict[type, str] = {}


async def dummy_hash(helper: PasswordHelperProtocol) -> str:
    """Return a hash to verify against when the user is unknown, made in a worker thread once.

    Verifying against it is the only hashing work an unknown e-mail costs, as a wrong password
    costs one verification: making a fresh hash per login would cost a second Argon2 run, and
    the response time would tell which addresses have accounts (ASVS 5.0 6.3.8; issue 16,
    item 7). So every helper reuses its dummy hash:

    * a :class:`PasswordHelper` or subclass, one per class and parameter set, shared by its
      instances (:meth:`PasswordHelper.dummy_hash`), so a helper made per request reuses it;
    * any other helper, one per helper object and one per helper class, made with its own
      :meth:`hash` at its first use.

    A helper object seen for the first time, made per request or that cannot be a weak
    dictionary key (an unhashable dataclass), reuses the dummy hash of its class: instances of
    one class are taken to hash with the same parameters.
    """
    try:
        cached = _DUMMY_HASH_BY_HELPER.get(helper)
    except TypeError:  # unhashable: remembered by its class only
        cached = None
    if cached is None and not isinstance(helper, PasswordHelper):
        cached = _DUMMY_HASH_BY_CLASS.get(type(helper))
    if cached is not None:
        return cached
    if isinstance(helper, PasswordHelper):
        fresh = await anyio.to_thread.run_sync(helper.dummy_hash, limiter=_HASH_LIMITER)
    else:
        fresh = await hash_password(helper, secrets.token_urlsafe())
        _DUMMY_HASH_BY_CLASS.setdefault(type(helper), fresh)
    with contextlib.suppress(TypeError):  # unhashable or not weakly referenceable
        _DUMMY_HASH_BY_HELPER[helper] = fresh
    return fresh


async def verify_and_update_password(
    helper: PasswordHelperProtocol, plain_password: str, hashed_password: str
) -> tuple[bool, str | None]:
    """Verify ``plain_password`` in a worker thread (see :meth:`PasswordHelper.verify_and_update`)."""
    return await anyio.to_thread.run_sync(
        helper.verify_and_update, plain_password, hashed_password, limiter=_HASH_LIMITER
    )
