"""The plain-words messages the pages show, keyed by the library's error codes.

The pages run the same domain calls as the JSON routers, inside the same error table
(:data:`fastapi_userkit.router.common.ERRORS`), so an error reaches a page as the code a JSON
client would see. This module turns that code into a sentence. A template can show its own
wording instead: every error it receives carries its ``code`` as well as its ``message``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, status

from fastapi_userkit.router.common import ErrorCode

__all__ = [
    "CURRENT_PASSWORD_WRONG",
    "INVALID_EMAIL",
    "INVALID_FIELD",
    "INVALID_FORM",
    "MESSAGES",
    "NOTICES",
    "SESSION_NOT_FOUND",
    "PageError",
    "error_from_http",
    "has_reason",
    "page_error",
]

# Codes the pages add to the library's: form problems that never reach the JSON API.
CURRENT_PASSWORD_WRONG = "CURRENT_PASSWORD_WRONG"  # noqa: S105 - an error code, not a password
INVALID_FORM = "INVALID_FORM"
INVALID_EMAIL = "INVALID_EMAIL"
INVALID_FIELD = "INVALID_FIELD"
SESSION_NOT_FOUND = "SESSION_NOT_FOUND"

MESSAGES: dict[str, str] = {
    ErrorCode.LOGIN_BAD_CREDENTIALS: "The e-mail address or the password is not correct.",
    ErrorCode.LOGIN_USER_NOT_VERIFIED: "Please verify your e-mail address first: follow the link we sent you, "
    "or ask for a new one.",
    ErrorCode.REGISTER_USER_ALREADY_EXISTS: "An account with this e-mail address already exists. "
    "Sign in, or reset your password if you forgot it.",
    ErrorCode.REGISTER_INVALID_PASSWORD: "This password cannot be used.",
    ErrorCode.RESET_PASSWORD_BAD_TOKEN: "This reset link is not valid: it has expired or was already used. "
    "Ask for a new one.",
    ErrorCode.RESET_PASSWORD_INVALID_PASSWORD: "This password cannot be used.",
    ErrorCode.VERIFY_USER_BAD_TOKEN: "This verification link is not valid: it has expired, or the address "
    "changed since. Ask for a new one.",
    ErrorCode.VERIFY_USER_ALREADY_VERIFIED: "Your e-mail address is already verified.",
    ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS: "Another account already uses this e-mail address.",
    ErrorCode.UPDATE_USER_INVALID_PASSWORD: "This password cannot be used.",
    ErrorCode.OAUTH_ACCOUNT_NOT_LINKED: "This account is not linked to yours any more.",
    ErrorCode.OAUTH_LAST_LOGIN_METHOD: "This is your only way to sign in: set a password before unlinking it.",
    ErrorCode.TOO_MANY_REQUESTS: "Too many attempts. Please wait a moment and try again.",
    ErrorCode.CSRF_CROSS_SITE_REQUEST: "This form was sent from another site, so it was refused.",
    ErrorCode.CSRF_TOKEN_INVALID: "This form has expired. Reload the page and try again.",
    CURRENT_PASSWORD_WRONG: "Your current password is not correct.",
    INVALID_FORM: "Please correct the highlighted fields.",
    INVALID_EMAIL: "Enter a valid e-mail address, like name@example.com.",
    INVALID_FIELD: "Please fill in this field correctly.",
    SESSION_NOT_FOUND: "This session has already ended.",
    ErrorCode.REAUTHENTICATE_BAD_CREDENTIALS: "Your password is not correct.",
    # Passkeys (issue 19): what went wrong, and what to do, without WebAuthn's words.
    ErrorCode.PASSKEY_INVALID_PAYLOAD: "The passkey answer could not be read. Please try again.",
    ErrorCode.PASSKEY_VERIFICATION_FAILED: "This passkey could not be checked. Try again, or use another way in.",
    ErrorCode.PASSKEY_WRONG_ORIGIN: "This passkey was used on another site address, so it was refused.",
    ErrorCode.PASSKEY_WRONG_RP_ID: "This passkey belongs to another site, so it was refused.",
    ErrorCode.PASSKEY_USER_NOT_VERIFIED: "Your device did not check that it is you (fingerprint, face or PIN). "
    "Please try again and unlock the passkey.",
    ErrorCode.PASSKEY_CHALLENGE_INVALID: "This passkey request has expired or was already used. Please try again.",
    ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL: "This passkey is not known here: it may have been deleted. "
    "Use another passkey, or another way in.",
    ErrorCode.PASSKEY_ALREADY_REGISTERED: "This passkey is already registered.",
    ErrorCode.PASSKEY_COUNTER_REGRESSION: "This passkey was refused because it may have been copied. "
    "Use another way in, and delete it from your account.",
    ErrorCode.PASSKEY_INVALID_NAME: "Give the passkey a name of 1 to 64 characters.",
    ErrorCode.PASSWORD_ALREADY_SET: "Your account has a password already: change it with your current one.",
    ErrorCode.PASSKEY_SIGNUP_UNAVAILABLE: "Creating an account with a passkey is not offered here.",
    ErrorCode.PASSKEY_LAST_LOGIN_METHOD: "This passkey is your only way to sign in: add another passkey "
    "or a password before deleting it.",
}
"""Sentence per code."""

NOTICES: dict[str, str] = {
    "signed-up": "Your account is created. We sent you a link to verify your e-mail address.",
    "signed-out": "You are signed out.",
    # Passkeys (issue 19), and "confirm it's you" without two-factor login.
    "passkey-added": "Your passkey is added. You can sign in with it now.",
    "passkey-renamed": "The passkey is renamed.",
    "passkey-deleted": "The passkey is deleted: it no longer signs you in.",
    "confirmed": "Thank you. You can make the change now.",
    "password-set": "Your password is set: you can sign in with it too. Your other sessions were signed out.",
    "password-reset": "Your password is changed. Sign in with the new one.",
    "password-changed": "Your password is changed. Your other sessions were signed out.",
    "email-changed": "Your e-mail address is changed. We sent a link to verify it.",
    "session-ended": "The session is ended.",
    "sessions-ended": "Your other sessions are ended.",
    "oauth-unlinked": "The account is unlinked.",
    "verified": "Your e-mail address is verified.",
    # The confirmed e-mail change (issue 20).
    "email-change-pending": "We sent a link to your new address: your address changes when you follow it. "
    "Your current address got a notice.",
    "email-change-resent": "We sent the link to your new address again. The earlier links no longer work.",
    "email-change-cancelled": "The e-mail change is cancelled. Your address stays as it is.",
    "email-change-none": "No e-mail change is waiting for confirmation.",
    "password-cleared": "Your e-mail address is verified. The password this account was created with no longer "
    'works: choose one with "Forgot your password?" if you want one.',
}
"""Messages shown after a redirect, chosen by a fixed key in the query (never reflected text)."""


@dataclass(frozen=True)
class PageError:
    """An error as a template receives it."""

    code: str
    """The library's error code (or one of the pages' own)."""

    message: str
    """The sentence to show."""

    reason: str | None = None
    """The password policy's explanation, for refused passwords."""

    field: str | None = None
    """The form field at fault, if one is."""


def page_error(code: str, reason: str | None = None, field: str | None = None) -> PageError:
    """The :class:`PageError` of ``code``."""
    return PageError(code, MESSAGES.get(code, MESSAGES[INVALID_FORM]), reason, field)


def has_reason(exc: HTTPException) -> bool:
    """Whether the error carries a reason (a refused password: ``{"code": ..., "reason": ...}``)."""
    detail: Any = exc.detail
    return isinstance(detail, dict)


def error_from_http(exc: HTTPException, field: str | None = None) -> PageError:
    """The :class:`PageError` of an ``HTTPException`` raised by the error table or a guard."""
    detail: Any = exc.detail
    if isinstance(detail, dict):
        return page_error(str(detail.get("code")), str(detail.get("reason")), field)
    if exc.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        retry_after = (exc.headers or {}).get("Retry-After")
        seconds = math.ceil(float(retry_after)) if retry_after and retry_after.isdigit() else None
        message = MESSAGES[ErrorCode.TOO_MANY_REQUESTS]
        if seconds is not None:
            message = f"Too many attempts. Please wait {seconds} seconds and try again."
        return PageError(ErrorCode.TOO_MANY_REQUESTS, message)
    return page_error(str(detail), field=field)
