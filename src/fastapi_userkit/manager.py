"""The user manager: registration, login, verification, password reset, updates and deletion.

:class:`BaseUserManager` keeps FastAPI Users' name, constructor, methods, class attributes and
hooks, so an application's ``UserManager`` subclass runs unchanged. What differs is invisible to
a well-behaved client:

* hashing runs in a worker thread (:mod:`fastapi_userkit.password`), never on the event loop;
* an unknown e-mail at login costs one dummy verification, like a wrong password (ASVS 6.3.8);
* reset tokens are bound to the password hash by an HMAC, not a second Argon2 run;
* hooks never see a plaintext password: ``on_after_update`` gets ``"password"`` redacted;
* ``{"email": null}`` and other nulls for required columns are ignored, never a 500.

The module is longer than most because it is FastAPI Users' public surface: every method an
application calls or overrides lives on this one class. The work behind them lives in smaller
modules: hooks and security events (``_manager_hooks``), id parsing (``_id_mixins``), OAuth
accounts (``_oauth_accounts``), hashing (``password``, ``security.password_hashing``), tokens
(``_fingerprint``, ``jwt``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Generic, overload

import jwt
from fastapi import Request
from fastapi.security import OAuth2PasswordRequestForm

from fastapi_userkit import exceptions
from fastapi_userkit._contracts import StrategyDestroyNotSupportedError, destroys_all_tokens, releases_connection
from fastapi_userkit._email_forms import login_email
from fastapi_userkit._fingerprint import fingerprint, fingerprints_match
from fastapi_userkit._id_mixins import IntegerIDMixin, UUIDIDMixin
from fastapi_userkit._manager_hooks import UserManagerHooks
from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit.db import BaseUserDatabase
from fastapi_userkit.db.base import ConditionalUserUpdate, UserSessionsDatabase
from fastapi_userkit.jwt import SecretType, decode_jwt, generate_jwt
from fastapi_userkit.mail.account import AccountMailer
from fastapi_userkit.models import ID, UP
from fastapi_userkit.password import (
    PasswordHelper,
    PasswordHelperProtocol,
    dummy_hash,
)
from fastapi_userkit.schemas import BaseUserCreate, BaseUserUpdate
from fastapi_userkit.security.events import (
    SECURITY_LOGGER_NAME,
    SecurityEventDatabase,
    SecurityEventType,
)
from fastapi_userkit.security.password_hashing import hash_normalized_password, verify_normalized_password
from fastapi_userkit.security.password_policy import DEFAULT_PASSWORD_POLICY, PasswordPolicy
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
_logger = logging.getLogger(SECURITY_LOGGER_NAME)


class BaseUserManager(UserManagerHooks[UP, ID], Generic[UP, ID]):
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
        security_event_db: Where :meth:`on_security_event` stores events (new in fastapi-userkit;
            see :mod:`fastapi_userkit.db.security_events`); events are only logged without it.
        session_strategies: Strategies whose tokens end whenever a user is deactivated, deleted
            or changes password, besides those of the request (new in fastapi-userkit). Give
            the app's Redis strategy and revocable JWT strategy here when the manager is also
            used outside a request (a job, the CLI sets its config's own).
        session_stores: Refresh-session stores to end likewise, besides the request's backends'.
    """

    reset_password_token_secret: SecretType
    reset_password_token_lifetime_seconds: int = 3600
    reset_password_token_audience: str = RESET_PASSWORD_TOKEN_AUDIENCE

    verification_token_secret: SecretType
    verification_token_lifetime_seconds: int = 3600
    verification_token_audience: str = VERIFY_USER_TOKEN_AUDIENCE

    password_policy: PasswordPolicy | None = DEFAULT_PASSWORD_POLICY
    """The default :meth:`validate_password` rules and the login size guard; ``None`` turns both off."""

    mailer: AccountMailer | None = None
    """Sends the account e-mails from the default hooks (see :mod:`fastapi_userkit.mail`); ``None``
    keeps FastAPI Users' behaviour: the hooks do nothing and the application sends its own."""

    user_db: BaseUserDatabase[UP, ID]
    password_helper: PasswordHelperProtocol
    security_event_db: SecurityEventDatabase | None
    # Class-level defaults too: a subclass whose ``__init__`` predates these keeps working.
    session_strategies: Sequence[Any] = ()
    session_stores: Sequence[Any] = ()

    def __init__(
        self,
        user_db: BaseUserDatabase[UP, ID],
        password_helper: PasswordHelperProtocol | None = None,
        *,
        security_event_db: SecurityEventDatabase | None = None,
        session_strategies: Sequence[Any] = (),
        session_stores: Sequence[Any] = (),
    ) -> None:
        self.user_db = user_db
        self.password_helper = password_helper if password_helper is not None else PasswordHelper()
        self.security_event_db = security_event_db
        self.session_strategies = tuple(session_strategies)
        self.session_stores = tuple(session_stores)

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
        self._check_password_size(user_create.password)
        await self.validate_password(user_create.password, user_create)
        if await self.user_db.get_by_email(user_create.email) is not None:
            raise exceptions.UserAlreadyExists()
        await self._release_storage()

        user_dict = user_create.create_update_dict() if safe else user_create.create_update_dict_superuser()
        user_dict = {key: value for key, value in user_dict.items() if not (key in _NON_NULLABLE and value is None)}
        password = user_dict.pop("password")
        user_dict["hashed_password"] = await hash_normalized_password(self.password_helper, password)

        created_user = await self.user_db.create(user_dict)
        await self.emit_security_event(SecurityEventType.REGISTERED, request, user_id=created_user.id)
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
        await self.emit_security_event(SecurityEventType.VERIFICATION_REQUESTED, request, user_id=user.id)
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
        # Only if still unverified: of simultaneous uses of the token, one wins (issue 22).
        verified_user = await self._update(user, {"is_verified": True}, expected={"is_verified": False})
        if verified_user is None:
            raise exceptions.UserAlreadyVerified()
        await self.emit_security_event(SecurityEventType.VERIFICATION_COMPLETED, request, user_id=verified_user.id)
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
        await self.emit_security_event(SecurityEventType.PASSWORD_RESET_REQUESTED, request, user_id=user.id)
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
        # Only if the password is still the one the token was made for: of simultaneous uses
        # of the token, one wins (issue 22).
        updated_user = await self._update(
            user, {"password": password}, expected={"hashed_password": user.hashed_password}
        )
        if updated_user is None:
            raise exceptions.InvalidResetPasswordToken()
        await self._end_sessions(updated_user, request)
        await self.emit_security_event(SecurityEventType.PASSWORD_RESET_COMPLETED, request, user_id=updated_user.id)
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
        old_hash, was_active = user.hashed_password, user.is_active
        old_email = user.email
        updated_user = await self._update(user, update_dict)
        if updated_user.hashed_password != old_hash or (was_active and not updated_user.is_active):
            await self._end_sessions(updated_user, request)
        await self._emit_update_events(updated_user, update_dict, old_hash, old_email, request)
        hook_dict = {key: (REDACTED if key == "password" else value) for key, value in update_dict.items()}
        await self.on_after_update(updated_user, hook_dict, request)
        return updated_user

    async def delete(self, user: UP, request: Request | None = None) -> None:
        """Delete a user, calling :meth:`on_before_delete` and :meth:`on_after_delete`.

        The user's sessions end first, as at deactivation (see :meth:`_end_sessions`): Redis
        has no foreign keys, and a session store may live apart from the user table.
        """
        await self.on_before_delete(user, request)
        # Sessions first, while the user row still exists (ASVS 5.0 7.4.2; issue 16, item 8).
        await self._end_sessions(user, request)
        await self.user_db.delete(user)
        await self.emit_security_event(SecurityEventType.USER_DELETED, request, user_id=user.id)
        await self.on_after_delete(user, request)

    @overload
    async def _update(self, user: UP, update_dict: dict[str, Any]) -> UP: ...

    @overload
    async def _update(self, user: UP, update_dict: dict[str, Any], *, expected: dict[str, Any]) -> UP | None: ...

    async def _update(
        self, user: UP, update_dict: dict[str, Any], *, expected: dict[str, Any] | None = None
    ) -> UP | None:
        """Validate and write ``update_dict``; with ``expected``, only if those columns still hold it.

        ``None``: ``expected`` no longer held (a storage without
        :class:`~fastapi_userkit.db.base.ConditionalUserUpdate` writes unconditionally).
        """
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
                self._check_password_size(value)
                await self.validate_password(value, user)
                await self._release_storage()
                validated["hashed_password"] = await hash_normalized_password(self.password_helper, value)
            else:
                validated[field] = value
        if expected is not None and isinstance(self.user_db, ConditionalUserUpdate):
            updated: UP | None = await self.user_db.update_if(user, expected, validated)
            return updated
        return await self.user_db.update(user, validated)

    # -- sessions ----------------------------------------------------------------------------

    async def logout_everywhere(
        self,
        user: UP,
        request: Request | None = None,
        *,
        strategies: Sequence[Any] | None = None,
        session_stores: Sequence[Any] | None = None,
    ) -> None:
        """End every session of ``user``, in every strategy that can (ASVS 5.0 7.4.3, 7.4.5).

        Args:
            user: Whose sessions end.
            request: An authenticated request; its strategies (one per backend) are used.
            strategies: The strategies to use instead (outside a request: the CLI, a job).
            session_stores: The refresh-session stores to use instead of the request's
                backends' (see :mod:`fastapi_userkit.sessions`).

        Database and Redis tokens are deleted; JWTs are revoked when the strategy has a
        revoked-token table, and otherwise stay valid until they expire (as in FastAPI Users).
        Refresh sessions and their token families are deleted.
        """
        await self.end_refresh_sessions(user, request, session_stores=session_stores)
        # Imported here: the authentication package's __init__ imports this module (the
        # _context module itself is a leaf, so there is no import cycle).
        from fastapi_userkit.authentication._context import request_strategies

        for strategy in strategies if strategies is not None else request_strategies(request):
            # The declared capability (AllTokensDestroying), not a getattr probe (issue 17).
            if not destroys_all_tokens(strategy):
                continue
            with contextlib.suppress(StrategyDestroyNotSupportedError):
                await strategy.destroy_all_tokens(user)
        await self.emit_security_event(SecurityEventType.SESSIONS_REVOKED, request, user_id=user.id)
        await self.on_after_logout_everywhere(user, request)

    async def end_refresh_sessions(
        self, user: UP, request: Request | None = None, *, session_stores: Sequence[Any] | None = None
    ) -> None:
        """Delete every refresh session of ``user`` (new in fastapi-userkit).

        The stores are ``session_stores``, or those of the backends with refresh on that the
        request was authenticated against. Sessions in a store out of reach die anyway: each is
        bound to the password hash and checked against the user row at every use.
        """
        from fastapi_userkit.authentication._context import request_backends

        if session_stores is None:
            session_stores = [
                backend.refresh.store for backend in request_backends(request) if backend.refresh is not None
            ]
        done: list[Any] = []
        for store in session_stores:
            if all(store is not seen for seen in done):
                done.append(store)
                await store.delete_for_user(user.id)

    async def _end_sessions(self, user: UP, request: Request | None) -> None:
        """After a password change or reset, a deactivation, and before a deletion.

        Every token already fails while it lasts (opaque tokens and JWTs carry a tag of the
        password hash; inactive users never authenticate); this ends the stored ones for good,
        so a reactivation revives none (issue 16, item 8). What ends, with or without a request:

        * the rows of the access-token and refresh-session tables mapped beside the user table
          (a user database that is a :class:`~fastapi_userkit.db.base.UserSessionsDatabase`);
        * the tokens of the request's strategies and of :attr:`session_strategies` (Redis keys
          and index, revocation of JWTs with a revoked-token table);
        * the refresh sessions of the request's backends and of :attr:`session_stores`.

        Plain JWTs (no revoked-token table) cannot be ended: they answer 401 while the user
        is inactive and work again after a reactivation until they expire.
        """
        from fastapi_userkit.authentication._context import request_backends, request_strategies

        if isinstance(self.user_db, UserSessionsDatabase):
            await self.user_db.delete_user_sessions(user.id)
        strategies: list[Any] = []
        for strategy in [*request_strategies(request), *self.session_strategies]:
            if all(strategy is not seen for seen in strategies):
                strategies.append(strategy)
        refresh = [backend.refresh for backend in request_backends(request) if backend.refresh is not None]
        stores = [*(settings.store for settings in refresh), *self.session_stores]
        await self.logout_everywhere(user, request, strategies=strategies, session_stores=stores)

    # -- login -------------------------------------------------------------------------------

    async def validate_password(self, password: str, user: BaseUserCreate | UP) -> None:
        """Check a password against :attr:`password_policy`; override to use rules of your own.

        The default applies :class:`~fastapi_userkit.security.PasswordPolicy` (NIST 800-63B:
        at least 8 code points, no composition rules, not a common password, not containing
        the e-mail's local part). An override replaces it, as in FastAPI Users.

        Raises:
            InvalidPasswordException: The password is refused; ``reason`` says why.
        """
        if self.password_policy is not None:
            self.password_policy.check(password, email=getattr(user, "email", None))

    async def authenticate(self, credentials: OAuth2PasswordRequestForm) -> UP | None:
        """Return the user whose e-mail and password match, or ``None``.

        An unknown e-mail costs one verification against a dummy hash, so it takes as long as
        a wrong password (no user enumeration by timing, ASVS 5.0 6.3.8). A hash made with an
        old algorithm or weaker parameters is replaced on success. A password over the policy's
        byte cap is refused before any lookup or hashing (hashing-DoS guard), which depends on
        the input alone and so tells nothing about the account.
        """
        if self.password_policy is not None and self.password_policy.exceeds_max_bytes(credentials.password):
            return None
        # Looked up in the form registration stored (NFC), so an NFD spelling finds its account (issue 16).
        user = await self.user_db.get_by_email(login_email(credentials.username))
        await self._release_storage()
        # A user created by OAuth has no password at all; it costs the same dummy run, so
        # timing does not tell such accounts apart either.
        if user is None or not has_usable_password(user.hashed_password):
            await verify_normalized_password(self.password_helper, credentials.password, await self._get_dummy_hash())
            return None
        verified, updated_hash = await verify_normalized_password(
            self.password_helper, credentials.password, user.hashed_password
        )
        if not verified:
            return None
        if updated_hash is not None:
            user = await self.user_db.update(user, {"hashed_password": updated_hash})
        return user

    async def _release_storage(self) -> None:
        """Give the database connection back before a slow hash (when the adapter can)."""
        if releases_connection(self.user_db):
            await self.user_db.release_connection()

    def _check_password_size(self, password: str) -> None:
        # Applies even when the app overrides validate_password: it protects the hasher.
        if self.password_policy is not None and self.password_policy.exceeds_max_bytes(password):
            raise exceptions.InvalidPasswordException(
                reason=f"The password must be at most {self.password_policy.max_bytes} bytes long."
            )

    async def _get_dummy_hash(self) -> str:
        # One cached hash per parameter set: a single process-wide hash would give a helper with
        # other parameters a cheaper (or dearer) dummy check, and timing would tell users apart.
        return await dummy_hash(self.password_helper)

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

    async def oauth_unlink(self, user: UP, oauth_name: str, account_id: str, request: Request | None = None) -> UP:
        """Unlink an OAuth account from ``user`` (new in fastapi-userkit).

        Raises:
            OAuthAccountNotLinked: ``user`` has no such linked account.
            OAuthLastLoginMethod: It is the last account of a user without a usable password.
        """
        from fastapi_userkit._oauth_accounts import oauth_unlink

        unlinked_user: UP = await oauth_unlink(self, user, oauth_name, account_id, request)
        return unlinked_user


UserManagerDependency = DependencyCallable[BaseUserManager[UP, ID]]
