"""The public surface of fastapi_userkit.mfa: one sorted ``__all__`` whose names all exist."""

from __future__ import annotations

from fastapi_userkit import mfa
from fastapi_userkit.exceptions import FastAPIUsersException
from tests.test_public_api import isort_key


def test_all_is_sorted_unique_and_complete() -> None:
    """``__all__`` is in isort order, has no duplicate, and every name resolves."""
    exported = list(mfa.__all__)

    assert exported == sorted(exported, key=isort_key)
    assert len(exported) == len(set(exported))
    assert all(hasattr(mfa, name) for name in exported)


def test_every_error_has_a_distinct_stable_code_under_the_library_root() -> None:
    """Each MFA exception derives from the library's root and has its own MFA_ code and a message."""
    errors = [
        mfa.MFAException,
        mfa.InvalidMFACode,
        mfa.MFACodeReplayed,
        mfa.MFANotEnabled,
        mfa.MFAAlreadyEnabled,
        mfa.MFAEnrolmentNotFound,
        mfa.SecretUnreadable,
    ]

    assert all(issubclass(error, FastAPIUsersException) for error in errors)
    assert len({error.code for error in errors}) == len(errors)
    assert all(error.code.startswith("MFA_") and error().message for error in errors)
    assert issubclass(mfa.MFACodeReplayed, mfa.InvalidMFACode)
