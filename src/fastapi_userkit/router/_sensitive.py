"""Sensitive changes of a user with a second factor need a fresh two-factor sign-in (issue 18, item 5; T43).

Enrolling or removing a factor, regenerating recovery codes, and changing the e-mail address or
the password are allowed to a user with an active factor only when the request's token comes
from a sign-in (or a re-authentication) with the second factor at most ``step_up_within``
seconds ago (ASVS 5.0 7.5.1; NIST SP 800-63B section 4.2). Otherwise the answer is RFC 9470's
``401 insufficient_user_authentication`` naming what to reach, so the client re-authenticates
(``POST {auth prefix}/reauthenticate``) and retries. A user without a factor is not asked
anything new for these changes: FastAPI Users' behaviour is unchanged for them, with one
exception: enrolling a first factor needs a sign-in (any level) at most ``step_up_within``
seconds old, so a stolen long-lived session cannot bind the thief's authenticator to the account
(:func:`require_fresh_enrolment`, as passkey registration asks ``fresh_within``).

The rule applies to the acting user: a superuser with a factor removing another user's factors or
setting their e-mail or password needs the superuser's own fresh two-factor sign-in.
"""

from typing import Any

from starlette.requests import Request

from fastapi_userkit._services.sign_in import SecondStep
from fastapi_userkit.authentication.assurance import AAL2, UNKNOWN_ASSURANCE
from fastapi_userkit.authentication.step_up import request_assurance
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.router.common import translate

__all__ = ["require_fresh_enrolment", "require_fresh_second_factor", "require_recent_sign_in"]


async def require_fresh_second_factor(
    request: Request, user: Any, second_step: SecondStep | None, fresh_within: int
) -> None:
    """Refuse a sensitive change of a user with a factor unless the request proved it recently.

    Args:
        request: The authenticated request (a ``current_user`` dependency has run for it).
        user: Its user.
        second_step: The request's second-factor helpers (``None``: two-factor login is off).
        fresh_within: How old, in seconds, the two-factor sign-in may be.

    Raises:
        fastapi.HTTPException: ``401`` with ``WWW-Authenticate: Bearer
            error="insufficient_user_authentication"`` (through the error table).
    """
    if second_step is None or not await second_step.factor.required(user):
        return
    _require(request, AAL2, fresh_within)


async def require_fresh_enrolment(request: Request, user: Any, second_step: SecondStep, fresh_within: int) -> None:
    """Refuse enrolling a factor unless the request's sign-in is recent (fresh AAL2 for a user with a factor).

    A first factor needs a sign-in of any level at most ``fresh_within`` seconds old: otherwise
    an hour-old stolen session could enrol the thief's authenticator and lock the owner out
    (ASVS 5.0 7.5.1; T43).

    Args:
        request: The authenticated request (a ``current_user`` dependency has run for it).
        user: Its user.
        second_step: The request's second-factor helpers.
        fresh_within: How old, in seconds, the sign-in may be.

    Raises:
        fastapi.HTTPException: ``401`` with ``WWW-Authenticate: Bearer
            error="insufficient_user_authentication"`` (through the error table).
    """
    has_factor = await second_step.factor.required(user)
    _require(request, AAL2 if has_factor else None, fresh_within)


def require_recent_sign_in(request: Request, fresh_within: int) -> None:
    """Refuse a change unless the request's sign-in (any level) is at most ``fresh_within`` seconds old.

    What ``current_user(fresh_within=...)`` checks, for a route that needs it only for some bodies
    (``PATCH /users/me`` starting a confirmed e-mail change, issue 20).

    Raises:
        fastapi.HTTPException: ``401`` with ``WWW-Authenticate: Bearer
            error="insufficient_user_authentication", max_age=...`` (through the error table).
    """
    _require(request, None, fresh_within)


def _require(request: Request, aal: int | None, fresh_within: int) -> None:
    """Raise RFC 9470's refusal unless the request's sign-in reaches ``aal`` within ``fresh_within`` seconds."""
    assurance = request_assurance(request) or UNKNOWN_ASSURANCE
    refusal = assurance.shortfall(aal, fresh_within, now_utc())
    if refusal is not None:
        with translate("step-up"):
            raise refusal
