"""The single error-to-HTTP table: lookups through the exception's class hierarchy, and fall-through."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import HTTPException

from fastapi_userkit import exceptions
from fastapi_userkit.router.common import ERRORS, ErrorCode, _Answer, translate


class TooShort(exceptions.InvalidPasswordException):
    """An application's own refinement of the password error."""


def test_subclass_is_mapped_like_its_parent() -> None:
    """An exception subclass gets its parent's answer, with the reason it carries."""
    with pytest.raises(HTTPException) as caught, translate("register"):
        raise TooShort(reason="at least 12 characters")

    detail: Any = caught.value.detail  # Starlette types it as str; the table answers an object here
    assert caught.value.status_code == 400
    assert detail == {"code": ErrorCode.REGISTER_INVALID_PASSWORD, "reason": "at least 12 characters"}


def test_first_flow_with_an_answer_wins() -> None:
    """With several flows, the first one that maps the exception decides."""
    with pytest.raises(HTTPException) as caught, translate("user", "update"):
        raise exceptions.UserAlreadyExists()

    assert (caught.value.status_code, caught.value.detail) == (400, "UPDATE_USER_EMAIL_ALREADY_EXISTS")


def test_unmapped_domain_error_propagates() -> None:
    """A domain error the flow does not list propagates unchanged (a programming error, not a client's)."""
    with pytest.raises(exceptions.UserInactive), translate("register"):
        raise exceptions.UserInactive()


def test_plain_detail_for_not_found() -> None:
    """Entries without a code answer FastAPI's plain detail for the status."""
    with pytest.raises(HTTPException) as caught, translate("user"):
        raise exceptions.InvalidID()

    assert (caught.value.status_code, caught.value.detail) == (404, "Not Found")


def test_plain_detail_is_the_status_phrase() -> None:
    """An entry without a code answers the phrase of any status, as a bare ``HTTPException`` does."""
    answer = _Answer(503, None)

    assert answer.detail(exceptions.UserInactive()) == HTTPException(503).detail == "Service Unavailable"


def test_answer_without_headers_sends_none() -> None:
    """An entry without headers adds none to the response."""
    assert _Answer(400, ErrorCode.LOGIN_BAD_CREDENTIALS).headers_for(exceptions.InvalidCredentials()) is None


def test_fixed_headers_reach_the_http_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed headers of a table entry are sent with the answer."""
    answer = _Answer(400, ErrorCode.LOGIN_BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    monkeypatch.setitem(ERRORS["login"], exceptions.InvalidCredentials, answer)

    with pytest.raises(HTTPException) as caught, translate("login"):
        raise exceptions.InvalidCredentials()

    assert caught.value.headers == {"WWW-Authenticate": "Bearer"}


def test_headers_computed_from_the_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers given as a function are computed from the exception being answered."""

    def reason_header(exc: exceptions.FastAPIUsersException) -> dict[str, str]:
        return {"X-Reason": exc.message}

    answer = _Answer(400, ErrorCode.LOGIN_BAD_CREDENTIALS, headers=reason_header)
    monkeypatch.setitem(ERRORS["login"], exceptions.InvalidCredentials, answer)

    with pytest.raises(HTTPException) as caught, translate("login"):
        raise exceptions.InvalidCredentials("no such user")

    assert caught.value.headers == {"X-Reason": "no such user"}
