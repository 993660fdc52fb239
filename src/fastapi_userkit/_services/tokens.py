"""The verification and reset-password tokens: issuing them, and redeeming each once.

Both are JWTs (PyJWT, :mod:`fastapi_userkit.jwt`) with FastAPI Users' claims and audiences, so a
token issued by either library works with the other:

* a verification token names the user (``sub``) and the address it verifies (``email``); it is
  refused once the address no longer belongs to that user;
* a reset token names the user and carries the fingerprint of the password hash and the address
  it was issued against (:mod:`fastapi_userkit._fingerprint`): once the password changes, every
  earlier reset token stops matching (the Django rule), and once the address changes, a token
  mailed to the previous one does too (a reverted e-mail change leaves the intruder's address
  no way to set a password).

Redeeming is single use even under simultaneous requests (issue 22): the write is conditional on
what the check saw (``is_verified`` still false, the password hash unchanged) through
:class:`~fastapi_userkit.db.base.ConditionalUserUpdate`, so of two uses of one token one wins.
A storage without it keeps the plain check-then-write.

The settings (secrets, lifetimes, audiences) are FastAPI Users' class attributes of the manager,
read at each call, so a subclass or an instance that changes them is followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from fastapi_userkit import exceptions
from fastapi_userkit._fingerprint import fingerprint, fingerprints_match
from fastapi_userkit.db.base import BaseUserDatabase
from fastapi_userkit.jwt import SecretType, decode_jwt, generate_jwt
from fastapi_userkit.models import ID, UP

__all__ = [
    "RESET_PASSWORD_TOKEN_AUDIENCE",
    "VERIFY_USER_TOKEN_AUDIENCE",
    "TokenSettings",
    "TokenUsers",
    "redeem_reset_token",
    "redeem_verify_token",
    "reset_settings",
    "reset_token_for",
    "verification_settings",
    "verify_token_for",
]

RESET_PASSWORD_TOKEN_AUDIENCE = "fastapi-users:reset"  # noqa: S105 - an audience name, not a password
VERIFY_USER_TOKEN_AUDIENCE = "fastapi-users:verify"  # noqa: S105 - an audience name
_PASSWORD_FINGERPRINT_CLAIM = "password_fgpt"  # noqa: S105 - a claim name


@dataclass(frozen=True)
class TokenSettings:
    """How one kind of token is signed: the manager's ``*_token_secret``, ``*_lifetime_seconds``, ``*_audience``."""

    secret: SecretType
    lifetime_seconds: int
    audience: str


class TokenUsers(Protocol[UP, ID]):
    """What the token flows need of the user manager: its token settings (FastAPI Users' class
    attributes, read at each call so a subclass or an instance that changes them is followed),
    its storage, and its overridable id parser and write step."""

    reset_password_token_secret: SecretType
    reset_password_token_lifetime_seconds: int
    reset_password_token_audience: str
    verification_token_secret: SecretType
    verification_token_lifetime_seconds: int
    verification_token_audience: str

    @property
    def user_db(self) -> BaseUserDatabase[UP, ID]:
        """The user storage."""
        ...  # pragma: no cover - protocol

    def parse_id(self, value: Any) -> ID:
        """Parse a user id; raise ``InvalidID``."""
        ...  # pragma: no cover - protocol

    async def get(self, id: ID) -> UP:
        """The user with this id; raise ``UserNotExists``."""
        ...  # pragma: no cover - protocol

    async def _update(self, user: UP, update_dict: dict[str, Any], *, expected: dict[str, Any]) -> UP | None:
        """Validate and write ``update_dict`` if the columns of ``expected`` still hold it."""
        ...  # pragma: no cover - protocol


def verification_settings(users: TokenUsers[Any, Any]) -> TokenSettings:
    """The manager's verification-token settings, as they are now."""
    return TokenSettings(
        users.verification_token_secret, users.verification_token_lifetime_seconds, users.verification_token_audience
    )


def reset_settings(users: TokenUsers[Any, Any]) -> TokenSettings:
    """The manager's reset-token settings, as they are now."""
    return TokenSettings(
        users.reset_password_token_secret,
        users.reset_password_token_lifetime_seconds,
        users.reset_password_token_audience,
    )


def _reset_fingerprint(settings: TokenSettings, user: Any) -> str:
    # Bound to the address it is mailed to as well (as verification tokens are, T39): after an
    # e-mail change is reverted, a reset link sent to the intruder's address sets no password.
    return fingerprint(settings.secret, "reset-password", f"{user.hashed_password}\x00{user.email}")


def verify_token_for(users: TokenUsers[UP, ID], user: UP) -> str:
    """A verification token for the user's current address.

    Raises:
        UserInactive: The user is deactivated.
        UserAlreadyVerified: Nothing to verify.
    """
    if not user.is_active:
        raise exceptions.UserInactive()
    if user.is_verified:
        raise exceptions.UserAlreadyVerified()
    settings = verification_settings(users)
    claims = {"sub": str(user.id), "email": user.email, "aud": settings.audience}
    return generate_jwt(claims, settings.secret, settings.lifetime_seconds)


def reset_token_for(users: TokenUsers[UP, ID], user: UP) -> str:
    """A reset token bound to the user's current password hash.

    Raises:
        UserInactive: The user is deactivated.
    """
    if not user.is_active:
        raise exceptions.UserInactive()
    settings = reset_settings(users)
    claims = {
        "sub": str(user.id),
        _PASSWORD_FINGERPRINT_CLAIM: _reset_fingerprint(settings, user),
        "aud": settings.audience,
    }
    return generate_jwt(claims, settings.secret, settings.lifetime_seconds)


async def redeem_verify_token(users: TokenUsers[UP, ID], token: str) -> UP:
    """Mark the user named by a verification token as verified, once.

    Raises:
        InvalidVerifyToken: Malformed, expired, wrong audience, missing claims, unknown address,
            or an address that belongs to another user than the token's.
        UserAlreadyVerified: The user is verified already (or a simultaneous use won).
    """
    settings = verification_settings(users)
    try:
        data = decode_jwt(token, settings.secret, [settings.audience])
    except jwt.PyJWTError as exc:
        raise exceptions.InvalidVerifyToken() from exc
    user_id, email = data.get("sub"), data.get("email")
    if not isinstance(user_id, str) or not isinstance(email, str):
        raise exceptions.InvalidVerifyToken()
    user = await users.user_db.get_by_email(email)
    if user is None:
        raise exceptions.InvalidVerifyToken()
    try:
        parsed_id = users.parse_id(user_id)
    except exceptions.InvalidID as exc:
        raise exceptions.InvalidVerifyToken() from exc
    if parsed_id != user.id:
        raise exceptions.InvalidVerifyToken()
    if user.is_verified:
        raise exceptions.UserAlreadyVerified()
    # Only if still unverified: of simultaneous uses of the token, one wins (issue 22). Through
    # the manager's ``_update`` (FastAPI Users' write step), so an override of it applies.
    verified = await users._update(user, {"is_verified": True}, expected={"is_verified": False})
    if verified is None:
        raise exceptions.UserAlreadyVerified()
    return verified


async def redeem_reset_token(users: TokenUsers[UP, ID], token: str, password: str) -> UP:
    """Set a new password with a reset token, once; the token then stops working.

    Raises:
        InvalidResetPasswordToken: Malformed, expired, wrong audience, or already used (the
            password hash changed since it was issued).
        UserNotExists: The token's user no longer exists.
        UserInactive: The user is deactivated.
        InvalidPasswordException: The password was refused.
    """
    settings = reset_settings(users)
    try:
        data = decode_jwt(token, settings.secret, [settings.audience])
    except jwt.PyJWTError as exc:
        raise exceptions.InvalidResetPasswordToken() from exc
    user_id = data.get("sub")
    if not isinstance(user_id, str):
        raise exceptions.InvalidResetPasswordToken()
    try:
        parsed_id = users.parse_id(user_id)
    except exceptions.InvalidID as exc:
        raise exceptions.InvalidResetPasswordToken() from exc
    user = await users.get(parsed_id)
    if not fingerprints_match(_reset_fingerprint(settings, user), data.get(_PASSWORD_FINGERPRINT_CLAIM)):
        raise exceptions.InvalidResetPasswordToken()
    if not user.is_active:
        raise exceptions.UserInactive()
    # Only if the password is still the one the token was made for: of simultaneous uses of
    # the token, one wins (issue 22).
    updated = await users._update(user, {"password": password}, expected={"hashed_password": user.hashed_password})
    if updated is None:
        raise exceptions.InvalidResetPasswordToken()
    return updated
