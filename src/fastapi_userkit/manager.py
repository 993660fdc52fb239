"""The user manager: registration, login, verification, password reset, updates and deletion.

:class:`BaseUserManager` keeps FastAPI Users' name, constructor, methods, class attributes and
hooks, so an application's ``UserManager`` subclass runs unchanged. What differs is invisible to
a well-behaved client:

* hashing runs in a worker thread (:mod:`fastapi_userkit.password`), never on the event loop;
* an unknown e-mail at login costs one dummy verification, like a wrong password (ASVS 6.3.8);
* reset tokens are bound to the password hash by an HMAC, not a second Argon2 run;
* hooks never see a plaintext password: ``on_after_update`` gets ``"password"`` redacted;
* ``{"email": null}`` and other nulls for required columns are ignored, never a 500.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Generic

import jwt
from fastapi import Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from fastapi_userkit import exceptions
from fastapi_userkit._fingerprint import fingerprint, fingerprints_match
from fastapi_userkit.db import BaseUserDatabase
from fastapi_userkit.jwt import SecretType, decode_jwt, generate_jwt
from fastapi_userkit.models import ID, UP
from fastapi_userkit.password import (
    PasswordHelper,
    PasswordHelperProtocol,
    hash_password,
    verify_and_update_password,
)
from fastapi_userkit.schemas import BaseUserCreate, BaseUserUpdate
from fastapi_userkit.types import DependencyCallable

__all__ = [
    "RESET_PASSWORD_TOKEN_AUDIENCE",
    "VERIFY_USER_TOKEN_AUDIENCE",
    "BaseUserManager",
    "IntegerIDMixin",
    "UUIDIDMixin",
    "UserManagerDependency",
]

RESET_PASSWORD_TOKEN_AUDIENCE = "fastapi-users:reset"
VERIFY_USER_TOKEN_AUDIENCE = "fastapi-users:verify"
REDACTED = "**********"
"""What ``on_after_update`` receives in place of a new password."""

# Columns that can never be NULL: a client's explicit null for one of them means "leave it".
_NON_NULLABLE = ("email", "password", "is_active", "is_superuser", "is_verified")
_PASSWORD_FINGERPRINT_CLAIM = "password_fgpt"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class BaseUserManager(Generic[UP, ID]):
    """User management logic; subclass it to set secrets and hooks.

    Example::

        class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
            reset_password_token_secret = SECRET
            verification_token_secret = SECRET

            async def on_after_register(self, user: User, request: Request | None = None) -> None:
                print(f"User {user.id} has registered.")

    Args:
        user_db: The storage adapter.
        password_helper: Hashes and verifies passwords; Argon2id by default.
    """

    reset_password_token_secret: SecretType
    reset_password_token_lifetime_seconds: int = 3600
    reset_password_token_audience: str = RESET_PASSWORD_TOKEN_AUDIENCE

    verification_token_secret: SecretType
    verification_token_lifetime_seconds: int = 3600
    verification_token_audience: str = VERIFY_USER_TOKEN_AUDIENCE

    user_db: BaseUserDatabase[UP, ID]
    password_helper: PasswordHelperProtocol

    _dummy_hash: ClassVar[str | None] = None

    def __init__(
        self,
        user_db: BaseUserDatabase[UP, ID],
        password_helper: PasswordHelperProtocol | None = None,
    ) -> None:
        self.user_db = user_db
        self.password_helper = password_helper if password_helper is not None else PasswordHelper()

    def parse_id(self, value: Any) -> ID:
        """Parse a value into a user id; the ID mixins implement it.

        Raises:
            InvalidID: The value is not a valid id.
        """
        raise NotImplementedError  # pragma: no cover - supplied by UUIDIDMixin / IntegerIDMixin

    # -- reading -----------------------------------------------------------------------------

    async def get(self, id: ID) -> UP:
        """Return the user with this id.

        Raises:
            UserNotExists: No such user.
        """
        user = await self.user_db.get(id)
        if user is None:
            raise exceptions.UserNotExists()
        return user

    async def get_by_email(self, user_email: str) -> UP:
        """Return the user with this e-mail address (case-insensitively).

        Raises:
            UserNotExists: No such user.
        """
        user = await self.user_db.get_by_email(user_email)
        if user is None:
            raise exceptions.UserNotExists()
        return user

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> UP:
        """Return the user linked to this provider account.

        Raises:
            UserNotExists: No such user.
        """
        user = await self.user_db.get_by_oauth_account(oauth, account_id)
        if user is None:
            raise exceptions.UserNotExists()
        return user

    # -- registration ------------------------------------------------------------------------

    async def create(self, user_create: BaseUserCreate, safe: bool = False, request: Request | None = None) -> UP:
        """Create a user.

        Args:
            user_create: The new user's data.
            safe: Drop the privileged fields (``is_superuser``, ``is_active``, ``is_verified``);
                the register route sets it, programmatic callers usually do not.
            request: The request that triggered the creation, for the hook.

        Raises:
            InvalidPasswordException: The password policy refused the password.
            UserAlreadyExists: The e-mail address is taken (also when a concurrent
                registration wins the race: the database's unique index decides).
        """
        await self.validate_password(user_create.password, user_create)
        if await self.user_db.get_by_email(user_create.email) is not None:
            raise exceptions.UserAlreadyExists()

        user_dict = user_create.create_update_dict() if safe else user_create.create_update_dict_superuser()
        user_dict = {key: value for key, value in user_dict.items() if not (key in _NON_NULLABLE and value is None)}
        password = user_dict.pop("password")
        user_dict["hashed_password"] = await hash_password(self.password_helper, password)

        created_user = await self.user_db.create(user_dict)
        await self.on_after_register(created_user, request)
        return created_user

    # -- verification ------------------------------------------------------------------------

    async def request_verify(self, user: UP, request: Request | None = None) -> None:
        """Issue a verification token and hand it to :meth:`on_after_request_verify`.

        Raises:
            UserInactive: The user is deactivated.
            UserAlreadyVerified: Nothing to verify.
        """
        if not user.is_active:
            raise exceptions.UserInactive()
        if user.is_verified:
            raise exceptions.UserAlreadyVerified()
        token_data = {"sub": str(user.id), "email": user.email, "aud": self.verification_token_audience}
        token = generate_jwt(token_data, self.verification_token_secret, self.verification_token_lifetime_seconds)
        await self.on_after_request_verify(user, token, request)

    async def verify(self, token: str, request: Request | None = None) -> UP:
        """Mark the user named by a verification token as verified.

        Raises:
            InvalidVerifyToken: The token is malformed, expired, or its e-mail address no
                longer belongs to its user.
            UserAlreadyVerified: The user is already verified.
        """
        try:
            data = decode_jwt(token, self.verification_token_secret, [self.verification_token_audience])
        except jwt.PyJWTError as exc:
            raise exceptions.InvalidVerifyToken() from exc
        user_id, email = data.get("sub"), data.get("email")
        if not isinstance(user_id, str) or not isinstance(email, str):
            raise exceptions.InvalidVerifyToken()
        user = await self.user_db.get_by_email(email)
        if user is None:
            raise exceptions.InvalidVerifyToken()
        try:
            parsed_id = self.parse_id(user_id)
        except exceptions.InvalidID as exc:
            raise exceptions.InvalidVerifyToken() from exc
        if parsed_id != user.id:
            raise exceptions.InvalidVerifyToken()
        if user.is_verified:
            raise exceptions.UserAlreadyVerified()
        verified_user = await self.user_db.update(user, {"is_verified": True})
        await self.on_after_verify(verified_user, request)
        return verified_user

    # -- password reset ----------------------------------------------------------------------

    def _password_fingerprint(self, user: UP) -> str:
        return fingerprint(self.reset_password_token_secret, "reset-password", user.hashed_password)

    async def forgot_password(self, user: UP, request: Request | None = None) -> None:
        """Issue a single-use reset token and hand it to :meth:`on_after_forgot_password`.

        Raises:
            UserInactive: The user is deactivated.
        """
        if not user.is_active:
            raise exceptions.UserInactive()
        token_data = {
            "sub": str(user.id),
            _PASSWORD_FINGERPRINT_CLAIM: self._password_fingerprint(user),
            "aud": self.reset_password_token_audience,
        }
        token = generate_jwt(token_data, self.reset_password_token_secret, self.reset_password_token_lifetime_seconds)
        await self.on_after_forgot_password(user, token, request)

    async def reset_password(self, token: str, password: str, request: Request | None = None) -> UP:
        """Set a new password with a reset token; the token then stops working.

        Raises:
            InvalidResetPasswordToken: The token is malformed, expired, or already used.
            UserNotExists: The token's user no longer exists.
            UserInactive: The user is deactivated.
            InvalidPasswordException: The password policy refused the password.
        """
        try:
            data = decode_jwt(token, self.reset_password_token_secret, [self.reset_password_token_audience])
        except jwt.PyJWTError as exc:
            raise exceptions.InvalidResetPasswordToken() from exc
        user_id = data.get("sub")
        if not isinstance(user_id, str):
            raise exceptions.InvalidResetPasswordToken()
        try:
            parsed_id = self.parse_id(user_id)
        except exceptions.InvalidID as exc:
            raise exceptions.InvalidResetPasswordToken() from exc
        user = await self.get(parsed_id)
        if not fingerprints_match(self._password_fingerprint(user), data.get(_PASSWORD_FINGERPRINT_CLAIM)):
            raise exceptions.InvalidResetPasswordToken()
        if not user.is_active:
            raise exceptions.UserInactive()
        updated_user = await self._update(user, {"password": password})
        await self.on_after_reset_password(updated_user, request)
        return updated_user

    # -- updates and deletion ----------------------------------------------------------------

    async def update(
        self, user_update: BaseUserUpdate, user: UP, safe: bool = False, request: Request | None = None
    ) -> UP:
        """Update a user.

        Args:
            user_update: The fields to change.
            user: The user to change.
            safe: Ignore the privileged fields (what ``PATCH /users/me`` does).
            request: The request, for the hook.

        Raises:
            UserAlreadyExists: The new e-mail address is taken.
            InvalidPasswordException: The password policy refused the new password.
        """
        update_dict = user_update.create_update_dict() if safe else user_update.create_update_dict_superuser()
        updated_user = await self._update(user, update_dict)
        hook_dict = {key: (REDACTED if key == "password" else value) for key, value in update_dict.items()}
        await self.on_after_update(updated_user, hook_dict, request)
        return updated_user

    async def delete(self, user: UP, request: Request | None = None) -> None:
        """Delete a user, calling :meth:`on_before_delete` and :meth:`on_after_delete`."""
        await self.on_before_delete(user, request)
        await self.user_db.delete(user)
        await self.on_after_delete(user, request)

    async def _update(self, user: UP, update_dict: dict[str, Any]) -> UP:
        validated: dict[str, Any] = {}
        for field, value in update_dict.items():
            if field in _NON_NULLABLE and value is None:
                continue
            if field == "email":
                if value != user.email:
                    owner = await self.user_db.get_by_email(value)
                    if owner is not None and owner.id != user.id:
                        raise exceptions.UserAlreadyExists()
                    validated["email"] = value
                    validated["is_verified"] = False
            elif field == "password":
                await self.validate_password(value, user)
                validated["hashed_password"] = await hash_password(self.password_helper, value)
            else:
                validated[field] = value
        return await self.user_db.update(user, validated)

    # -- login -------------------------------------------------------------------------------

    async def validate_password(self, password: str, user: BaseUserCreate | UP) -> None:
        """Check a password against the policy; override to add rules.

        Raises:
            InvalidPasswordException: The password is refused.
        """
        return None

    async def authenticate(self, credentials: OAuth2PasswordRequestForm) -> UP | None:
        """Return the user whose e-mail and password match, or ``None``.

        An unknown e-mail costs one verification against a dummy hash, so it takes as long as
        a wrong password (no user enumeration by timing, ASVS 5.0 6.3.8). A hash made with an
        old algorithm or weaker parameters is replaced on success.
        """
        user = await self.user_db.get_by_email(credentials.username)
        if user is None:
            await verify_and_update_password(self.password_helper, credentials.password, await self._get_dummy_hash())
            return None
        verified, updated_hash = await verify_and_update_password(
            self.password_helper, credentials.password, user.hashed_password
        )
        if not verified:
            return None
        if updated_hash is not None:
            user = await self.user_db.update(user, {"hashed_password": updated_hash})
        return user

    async def _get_dummy_hash(self) -> str:
        # Cached per class for the default helper; a custom helper gets a fresh hash each time
        # (the same cost FastAPI Users pays) because its parameters may differ.
        if type(self.password_helper) is not PasswordHelper:
            return await hash_password(self.password_helper, uuid.uuid4().hex)
        if BaseUserManager._dummy_hash is None:
            BaseUserManager._dummy_hash = await hash_password(self.password_helper, uuid.uuid4().hex)
        return BaseUserManager._dummy_hash

    # -- OAuth -------------------------------------------------------------------------------

    async def oauth_callback(
        self,
        oauth_name: str,
        access_token: str,
        account_id: str,
        account_email: str,
        expires_at: int | None = None,
        refresh_token: str | None = None,
        request: Request | None = None,
        *,
        associate_by_email: bool = False,
        is_verified_by_default: bool = False,
    ) -> UP:
        """Log in, link or create the user for an OAuth account (see :mod:`fastapi_userkit.oauth`).

        Raises:
            UserAlreadyExists: The e-mail address belongs to a user and ``associate_by_email`` is off.
        """
        from fastapi_userkit._oauth_accounts import oauth_callback

        user: UP = await oauth_callback(
            self,
            oauth_name,
            access_token,
            account_id,
            account_email,
            expires_at,
            refresh_token,
            request,
            associate_by_email=associate_by_email,
            is_verified_by_default=is_verified_by_default,
        )
        return user

    async def oauth_associate_callback(
        self,
        user: UP,
        oauth_name: str,
        access_token: str,
        account_id: str,
        account_email: str,
        expires_at: int | None = None,
        refresh_token: str | None = None,
        request: Request | None = None,
    ) -> UP:
        """Link an OAuth account to ``user``.

        Raises:
            OAuthAccountAlreadyLinked: The provider account belongs to another user.
        """
        from fastapi_userkit._oauth_accounts import oauth_associate_callback

        linked_user: UP = await oauth_associate_callback(
            self, user, oauth_name, access_token, account_id, account_email, expires_at, refresh_token, request
        )
        return linked_user

    # -- hooks -------------------------------------------------------------------------------

    async def on_after_register(self, user: UP, request: Request | None = None) -> None:
        """Called after a user registered."""

    async def on_after_update(self, user: UP, update_dict: dict[str, Any], request: Request | None = None) -> None:
        """Called after a user was updated; a new password shows as :data:`REDACTED`."""

    async def on_after_request_verify(self, user: UP, token: str, request: Request | None = None) -> None:
        """Called with a fresh verification token (e-mail it to the user)."""

    async def on_after_verify(self, user: UP, request: Request | None = None) -> None:
        """Called after a user verified their e-mail address."""

    async def on_after_forgot_password(self, user: UP, token: str, request: Request | None = None) -> None:
        """Called with a fresh reset token (e-mail it to the user)."""

    async def on_after_reset_password(self, user: UP, request: Request | None = None) -> None:
        """Called after a user reset their password."""

    async def on_after_login(self, user: UP, request: Request | None = None, response: Response | None = None) -> None:
        """Called after a successful login, with the response about to be sent."""

    async def on_before_delete(self, user: UP, request: Request | None = None) -> None:
        """Called before a user is deleted."""

    async def on_after_delete(self, user: UP, request: Request | None = None) -> None:
        """Called after a user was deleted."""


class UUIDIDMixin:
    """Parses ids as UUIDs; put it left of :class:`BaseUserManager`."""

    def parse_id(self, value: Any) -> uuid.UUID:
        """Parse a UUID.

        Raises:
            InvalidID: Not a UUID or its string form (``None`` and numbers included).
        """
        if isinstance(value, uuid.UUID):
            return value
        if not isinstance(value, str):
            raise exceptions.InvalidID()
        try:
            return uuid.UUID(value)
        except ValueError as exc:
            raise exceptions.InvalidID() from exc


class IntegerIDMixin:
    """Parses ids as integers; put it left of :class:`BaseUserManager`."""

    def parse_id(self, value: Any) -> int:
        """Parse an integer.

        Raises:
            InvalidID: Not an integer or its decimal string form (``None``, floats and booleans included).
        """
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise exceptions.InvalidID()
        try:
            parsed = int(value)
        except ValueError as exc:
            raise exceptions.InvalidID() from exc
        # Ids outside a signed 64-bit integer cannot exist in any supported database, and
        # asyncpg would fail on them with a driver error (a 500) instead of "not found".
        if not _INT64_MIN <= parsed <= _INT64_MAX:
            raise exceptions.InvalidID()
        return parsed


UserManagerDependency = DependencyCallable[BaseUserManager[UP, ID]]
