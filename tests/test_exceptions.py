"""The exception tree: one root, a message and a stable code on every error, drawn in the docstring."""

from __future__ import annotations

import inspect
import re

import pytest

from fastapi_userkit import exceptions

ALIASES = {"FastAPIUserkitError"}
EXCEPTIONS = [getattr(exceptions, name) for name in exceptions.__all__ if name not in ALIASES]


def drawn_tree() -> dict[str, int]:
    """Class names in the module docstring's tree, with their depth (the root is 0)."""
    tree: dict[str, int] = {}
    for line in (exceptions.__doc__ or "").splitlines():
        # "    Root   ...", "    ├── Child   ...", "    │   └── Grandchild   ..."
        match = re.match(r"^    ((?:[│ ]   )*)([├└]── )?([A-Z][A-Za-z]+)  ", line)
        if match:
            tree[match.group(3)] = len(match.group(1)) // 4 + (1 if match.group(2) else 0)
    return tree


def test_every_exception_derives_from_the_root() -> None:
    """Every exported exception is a FastAPIUsersException (FastAPIUserkitError is the same class)."""
    assert exceptions.FastAPIUserkitError is exceptions.FastAPIUsersException
    assert all(issubclass(cls, exceptions.FastAPIUsersException) for cls in EXCEPTIONS)


@pytest.mark.parametrize("cls", [c for c in EXCEPTIONS if c is not exceptions.InvalidPasswordException])
def test_every_exception_has_a_message_and_a_code(cls: type[exceptions.FastAPIUsersException]) -> None:
    """Raised without arguments, each error still carries a human message and an upper-case code."""
    error = cls()

    assert error.message
    assert str(error) == error.message
    assert re.fullmatch(r"[A-Z][A-Z_]+", error.code)


def test_codes_are_unique() -> None:
    """No two errors share a machine code."""
    codes = [cls.code for cls in EXCEPTIONS]

    assert len(codes) == len(set(codes))


def test_a_message_can_be_given() -> None:
    """An explicit message replaces the default; the code stays."""
    error = exceptions.UserNotExists("No user with id 42.")

    assert (error.message, error.code) == ("No user with id 42.", "USER_NOT_EXISTS")


def test_invalid_password_exception_keeps_its_reason() -> None:
    """InvalidPasswordException(reason=...) exposes reason (sent to clients) and uses it as message."""
    error = exceptions.InvalidPasswordException(reason="Password should be at least 12 characters")

    assert error.reason == "Password should be at least 12 characters"
    assert error.message == "Password should be at least 12 characters"
    assert error.code == "INVALID_PASSWORD"


def test_configuration_error_is_also_a_value_error() -> None:
    """Misconfiguration can be caught as ValueError too."""
    assert issubclass(exceptions.ConfigurationError, ValueError)


def test_the_docstring_draws_the_real_tree() -> None:
    """Every exception appears in the drawn tree under its real parent, and nothing else does."""
    tree = drawn_tree()
    defined = {
        name: cls
        for name, cls in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(cls, exceptions.FastAPIUsersException) and name not in ALIASES
    }

    assert set(tree) == set(defined)
    assert tree["FastAPIUsersException"] == 0
    for name, depth in tree.items():
        if depth:
            parents = [base.__name__ for base in defined[name].__mro__[1:] if base.__name__ in defined]
            assert tree[parents[0]] == depth - 1, name


def test_the_fastapi_users_names_are_importable() -> None:
    """The exception names of FastAPI Users' exceptions module are all here."""
    compat = {
        "FastAPIUsersException",
        "InvalidID",
        "UserAlreadyExists",
        "UserNotExists",
        "UserInactive",
        "UserAlreadyVerified",
        "InvalidVerifyToken",
        "InvalidResetPasswordToken",
        "InvalidPasswordException",
    }

    assert compat <= set(exceptions.__all__)
