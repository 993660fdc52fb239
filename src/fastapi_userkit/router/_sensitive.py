"""Sensitive changes of a user with a second factor need a fresh two-factor sign-in (issue 18, item 5; T43).

Enrolling or removing a factor, regenerating recovery codes, and changing the e-mail address or
the password are allowed to a user with an active factor only when the request's token comes
from a sign-in (or a re-authentication) with the second factor at most ``step_up_within``
seconds ago (ASVS 5.0 7.5.1; NIST SP 800-63B section 4.2). Otherwise the answer is RFC 9470's
``401 insufficient_user_authentication`` naming what to reach, so the client re-authenticates
(``POST {auth prefix}/reauthenticate``) and retries. A user without a factor is not asked
anything new: FastAPI Users' behaviour is unchanged for them.
"""

from typing import Any

from starlette.requests import Request

from fastapi_userkit._services.sign_in import SecondStep
from fastapi_userkit.authentication.assurance import AAL2, UNKNOWN_ASSURANCE
from fastapi_userkit.authentication.step_up import request_assurance
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.router.common import translate

__all__ = ["require_fresh_second_factor"]


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
    assurance = request_assurance(request) or UNKNOWN_ASSURANCE
    refusal = assurance.shortfall(AAL2, fresh_within, now_utc())
    if refusal is not None:
        with translate("step-up"):
            raise refusal
