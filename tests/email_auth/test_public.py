"""The public surface of fastapi_userkit.email_auth: one sorted ``__all__``, errors with stable codes."""

from __future__ import annotations

from fastapi_userkit import email_auth
from fastapi_userkit.exceptions import FastAPIUsersException
from tests.test_public_api import isort_key


def test_all_is_sorted_unique_and_complete() -> None:
    """``__all__`` is in isort order, has no duplicate, and every name resolves."""
    exported = list(email_auth.__all__)

    assert exported == sorted(exported, key=isort_key)
    assert len(exported) == len(set(exported))
    assert all(hasattr(email_auth, name) for name in exported)


def test_every_error_has_a_distinct_stable_code_under_the_library_root() -> None:
    """Each error derives from the library's root and has its own EMAIL_ code and a message."""
    errors = [
        email_auth.EmailAuthException,
        email_auth.EmailLinkInvalid,
        email_auth.EmailLinkExpired,
        email_auth.EmailLinkUsed,
        email_auth.EmailCodeInvalid,
        email_auth.EmailCodeAttemptsExhausted,
        email_auth.EmailAddressTaken,
        email_auth.EmailAddressUnchanged,
    ]

    assert all(issubclass(error, email_auth.EmailAuthException) for error in errors)
    assert issubclass(email_auth.EmailAuthException, FastAPIUsersException)
    assert len({error.code for error in errors}) == len(errors)
    assert all(error.code.startswith("EMAIL_") and error().message for error in errors)
