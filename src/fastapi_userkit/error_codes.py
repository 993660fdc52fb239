# Error codes, not passwords (the code names say PASSWORD and TOKEN).
# ruff: noqa: S105
"""The machine-readable ``detail`` codes clients receive (a leaf: it imports nothing of the package).

Every module may name a code without importing the routers: the security layer (rate limiting,
CSRF), the pages and the error table in :mod:`fastapi_userkit.router.common` all read them here
(issue 17). ``fastapi_userkit.router.common.ErrorCode`` (and FastAPI Users' path
``fastapi_users.router.common.ErrorCode``) stay importable: they are this class.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorCode"]


class ErrorCode(StrEnum):
    """The ``detail`` codes the routers answer with (FastAPI Users' values, plus new ones)."""

    REGISTER_INVALID_PASSWORD = "REGISTER_INVALID_PASSWORD"
    REGISTER_USER_ALREADY_EXISTS = "REGISTER_USER_ALREADY_EXISTS"
    OAUTH_NOT_AVAILABLE_EMAIL = "OAUTH_NOT_AVAILABLE_EMAIL"
    OAUTH_USER_ALREADY_EXISTS = "OAUTH_USER_ALREADY_EXISTS"
    OAUTH_INVALID_STATE = "OAUTH_INVALID_STATE"
    LOGIN_BAD_CREDENTIALS = "LOGIN_BAD_CREDENTIALS"
    LOGIN_USER_NOT_VERIFIED = "LOGIN_USER_NOT_VERIFIED"
    RESET_PASSWORD_BAD_TOKEN = "RESET_PASSWORD_BAD_TOKEN"
    RESET_PASSWORD_INVALID_PASSWORD = "RESET_PASSWORD_INVALID_PASSWORD"
    VERIFY_USER_BAD_TOKEN = "VERIFY_USER_BAD_TOKEN"
    VERIFY_USER_ALREADY_VERIFIED = "VERIFY_USER_ALREADY_VERIFIED"
    UPDATE_USER_EMAIL_ALREADY_EXISTS = "UPDATE_USER_EMAIL_ALREADY_EXISTS"
    UPDATE_USER_INVALID_PASSWORD = "UPDATE_USER_INVALID_PASSWORD"
    ACCESS_TOKEN_ALREADY_EXPIRED = "ACCESS_TOKEN_ALREADY_EXPIRED"
    ACCESS_TOKEN_DECODE_ERROR = "ACCESS_TOKEN_DECODE_ERROR"
    # New in fastapi-userkit
    OAUTH_ACCOUNT_ALREADY_LINKED = "OAUTH_ACCOUNT_ALREADY_LINKED"
    OAUTH_ACCOUNT_NOT_LINKED = "OAUTH_ACCOUNT_NOT_LINKED"
    OAUTH_LAST_LOGIN_METHOD = "OAUTH_LAST_LOGIN_METHOD"
    OAUTH_INVALID_CODE = "OAUTH_INVALID_CODE"
    OAUTH_PROVIDER_ERROR = "OAUTH_PROVIDER_ERROR"
    OAUTH_REDIRECT_NOT_ALLOWED = "OAUTH_REDIRECT_NOT_ALLOWED"
    USER_DATA_INVALID = "USER_DATA_INVALID"
    # ``get_users_router(require_current_password=True)``: PATCH /users/me changing the e-mail
    # or the password without the current password, or with a wrong one.
    UPDATE_USER_CURRENT_PASSWORD_REQUIRED = "UPDATE_USER_CURRENT_PASSWORD_REQUIRED"
    UPDATE_USER_CURRENT_PASSWORD_INVALID = "UPDATE_USER_CURRENT_PASSWORD_INVALID"
    LOGOUT_ALL_NOT_SUPPORTED = "LOGOUT_ALL_NOT_SUPPORTED"
    # Two-factor login and management (issue 18)
    MFA_CHALLENGE_INVALID = "MFA_CHALLENGE_INVALID"
    MFA_INVALID_CODE = "MFA_INVALID_CODE"
    MFA_CODE_REPLAYED = "MFA_CODE_REPLAYED"
    MFA_NOT_ENABLED = "MFA_NOT_ENABLED"
    MFA_ALREADY_ENABLED = "MFA_ALREADY_ENABLED"
    MFA_ENROLMENT_NOT_FOUND = "MFA_ENROLMENT_NOT_FOUND"
    # Step-up (issue 18, item 4): RFC 9470's 401 for a sign-in too weak or too old, and the
    # refusals of POST {auth prefix}/reauthenticate.
    INSUFFICIENT_USER_AUTHENTICATION = "INSUFFICIENT_USER_AUTHENTICATION"
    REAUTHENTICATE_BAD_CREDENTIALS = "REAUTHENTICATE_BAD_CREDENTIALS"
    REAUTHENTICATE_CODE_REQUIRED = "REAUTHENTICATE_CODE_REQUIRED"
    # Rate limiting (429, with Retry-After) and CSRF (403): answered by any guarded flow.
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    CSRF_CROSS_SITE_REQUEST = "CSRF_CROSS_SITE_REQUEST"
    CSRF_TOKEN_INVALID = "CSRF_TOKEN_INVALID"
