"""The public surface of fastapi_userkit.passkeys: one sorted ``__all__`` whose names all exist; stable codes."""

from __future__ import annotations

from fastapi_userkit import passkeys
from fastapi_userkit.exceptions import FastAPIUsersException
from fastapi_userkit.passkeys import exceptions
from tests.test_public_api import isort_key


def test_all_is_sorted_unique_and_complete() -> None:
    """``__all__`` is in isort order, has no duplicate, and every name resolves."""
    exported = list(passkeys.__all__)

    assert exported == sorted(exported, key=isort_key)
    assert len(exported) == len(set(exported))
    assert all(hasattr(passkeys, name) for name in exported)


def test_every_error_has_a_distinct_stable_code_under_the_library_root() -> None:
    """Each passkey exception derives from the library's root and has its own code and a message.

    The codes start with PASSKEY_, except the two of a passwordless account's password (PASSWORD_).
    """
    errors = [getattr(exceptions, name) for name in exceptions.__all__]

    assert all(issubclass(error, FastAPIUsersException) for error in errors)
    assert len({error.code for error in errors}) == len(errors)
    assert all(error.code.startswith(("PASSKEY_", "PASSWORD_")) and error().message for error in errors)
    assert {error.code for error in errors if error.code.startswith("PASSWORD_")} == {
        "PASSWORD_ALREADY_SET",
        "PASSWORD_LAST_LOGIN_METHOD",
    }
    assert all(hasattr(passkeys, name) for name in exceptions.__all__)
