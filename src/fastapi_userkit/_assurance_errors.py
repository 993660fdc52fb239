"""The errors of step-up authentication (issue 18, item 4), re-exported by ``authentication.assurance``.

::

    FastAPIUsersException
    ├── InsufficientUserAuthentication    the sign-in is below the level, or older than the age, required
    ├── ReauthenticationFailed            a re-authentication came with a wrong password
    └── ReauthenticationCodeRequired      ... without the code of the user's second factor

A leaf module: the error table (``router/common.py``) imports it without loading the
authentication package, whose authenticator imports the table.
"""

from __future__ import annotations

from fastapi_userkit.exceptions import FastAPIUsersException

__all__ = ["InsufficientUserAuthentication", "ReauthenticationCodeRequired", "ReauthenticationFailed", "acr_value"]


def acr_value(aal: int) -> str:
    """The ``acr_values`` a client is told to reach for level ``aal`` (RFC 9470 section 3)."""
    return f"aal{aal}"


class InsufficientUserAuthentication(FastAPIUsersException):
    """The request's sign-in is below the level, or older than the age, the route requires.

    Answered with ``401`` and RFC 9470's ``WWW-Authenticate: Bearer
    error="insufficient_user_authentication"``, naming ``acr_values`` (the level to reach) or
    ``max_age`` (the age the sign-in may have), so the client can re-authenticate and retry.

    Attributes:
        aal: The level required, when the request falls short of it.
        max_age: The greatest age of the sign-in, when the request's is older or unknown.
    """

    default_message = "A stronger or more recent authentication is required."
    code = "INSUFFICIENT_USER_AUTHENTICATION"

    def __init__(self, *, aal: int | None = None, max_age: int | None = None) -> None:
        self.aal = aal
        self.max_age = max_age
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.aal is not None:
            return "A second factor is required: authenticate again with it."
        return "The sign-in is not recent enough: authenticate again."

    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` value of the ``401`` (RFC 9470 section 3)."""
        parts = ['Bearer error="insufficient_user_authentication"', f'error_description="{self.message}"']
        if self.aal is not None:
            parts.append(f'acr_values="{acr_value(self.aal)}"')
        if self.max_age is not None:
            parts.append(f'max_age="{self.max_age}"')
        return ", ".join(parts)


class ReauthenticationFailed(FastAPIUsersException):
    """A re-authentication came with a wrong password (counted as a failed login of the account)."""

    default_message = "The password is not correct."
    code = "REAUTHENTICATE_BAD_CREDENTIALS"


class ReauthenticationCodeRequired(FastAPIUsersException):
    """The user has a second factor, and the re-authentication came without its code."""

    default_message = "The code of the second factor is required."
    code = "REAUTHENTICATE_CODE_REQUIRED"
