"""The user manager: FastAPI Users' ``BaseUserManager``, a facade over the services that do the work.

:class:`BaseUserManager` keeps FastAPI Users' name, constructor, methods, class attributes and
hooks, so an application's ``UserManager`` subclass runs unchanged. Each method does its job
through a service, then records the security event and calls the hook; the services reach
``validate_password``, ``parse_id`` and ``_update`` through the manager, so overrides apply.
The services (one job each; none imports this module):

* ``_services.passwords``: the policy, the size guard, hashing off the loop, checking a login;
* ``_services.updates``: a new user's columns and an update, validated and written;
* ``_services.tokens``: the verification and reset tokens, issued and redeemed once (issue 22);
* ``_services.sessions``: ending a user's sessions in the strategies and stores it is given;
* ``_manager_sessions``, ``_oauth_accounts`` and ``_manager_hooks``: the session and OAuth
  methods, the hooks and the security events, inherited.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Final, Generic, overload

from fastapi import Request
from fastapi.security import OAuth2PasswordRequestForm

from fastapi_userkit import exceptions
from fastapi_userkit._contracts import AllTokensDestroying, SecondFactorRemoving, removes_oauth_account
from fastapi_userkit._id_mixins import IntegerIDMixin, UUIDIDMixin
from fastapi_userkit._manager_sessions import SessionMethods
from fastapi_userkit._oauth_accounts import OAuthAccounts, PasskeyHolding, make_unusable_password
from fastapi_userkit._services import passwords, tokens
from fastapi_userkit._services.sessions import UserSessionsEnding
from fastapi_userkit._services.tokens import RESET_PASSWORD_TOKEN_AUDIENCE, VERIFY_USER_TOKEN_AUDIENCE
from fastapi_userkit._services.updates import REDACTED, UserWrites, redacted, update_dict_of
from fastapi_userkit.db import BaseUserDatabase
from fastapi_userkit.jwt import SecretType
from fastapi_userkit.mail.account import AccountMailer
from fastapi_userkit.models import ID, UP
from fastapi_userkit.password import PasswordHelper, PasswordHelperProtocol
from fastapi_userkit.schemas import BaseUserCreate, BaseUserUpdate
from fastapi_userkit.security.events import SecurityEventDatabase, SecurityEventType
from fastapi_userkit.security.password_policy import DEFAULT_PASSWORD_POLICY, PasswordPolicy
from fastapi_userkit.types import DependencyCallable

__all__ = [
    "REDACTED",
    "RESET_PASSWORD_TOKEN_AUDIENCE",
    "VERIFY_USER_TOKEN_AUDIENCE",
    "BaseUserManager",
    "IntegerIDMixin",
    "UUIDIDMixin",
    "UserManagerDependency",
]


def _found(user: UP | None) -> UP:
    if user is None:
        raise exceptions.UserNotExists()
    return user


class _Default(enum.Enum):
    """Marks a constructor setting that was not given: the class attribute stands (compat)."""

    CLASS_ATTRIBUTE = enum.auto()


_CLASS_ATTRIBUTE: Final = _Default.CLASS_ATTRIBUTE


class BaseUserManager(SessionMethods[UP, ID], OAuthAccounts[UP, ID], Generic[UP, ID]):
    """User management logic; subclass it to set secrets and hooks.

    Example::

        class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
            reset_password_token_secret = SECRET
            verification_token_secret = SECRET

            async def on_after_register(self, user: User, request: Request | None = None) -> None:
                print(f"User {user.id} has registered.")

        UserManager(user_db, password_policy=PasswordPolicy(min_length=12), mailer=account_mailer)

    Args:
        user_db: The storage adapter.
        password_helper: Hashes and verifies passwords; Argon2id by default.
        security_event_db: Where :meth:`on_security_event` stores events (new in fastapi-userkit;
            see :mod:`fastapi_userkit.db.security_events`); events are only logged without it.
        session_strategies: Strategies whose tokens end whenever a user is deactivated, deleted
            or changes password, besides the request's (new in fastapi-userkit): the app's Redis
            and revocable JWT strategies, for a manager also used outside a request (a job).
        session_stores: Refresh-session stores to end likewise, besides the request's backends'.
        password_policy: The default :meth:`validate_password` rules and the login size guard;
            ``None`` turns both off. Not given: the class attribute, :data:`DEFAULT_PASSWORD_POLICY`
            unless a subclass sets its own (the earlier documented form, still supported).
        mailer: Sends the account e-mails from the default hooks (:mod:`fastapi_userkit.mail`);
            ``None``: they send nothing. Not given: the class attribute, as for ``password_policy``.
    """

    reset_password_token_secret: SecretType
    reset_password_token_lifetime_seconds: int = 3600
    reset_password_token_audience: str = RESET_PASSWORD_TOKEN_AUDIENCE

    verification_token_secret: SecretType
    verification_token_lifetime_seconds: int = 3600
    verification_token_audience: str = VERIFY_USER_TOKEN_AUDIENCE

    # The compat form of the constructor's keyword arguments below: an application that sets
    # them on its subclass (or whose ``__init__`` predates them) keeps working.
    password_policy: PasswordPolicy | None = DEFAULT_PASSWORD_POLICY
    mailer: AccountMailer | None = None

    security_event_db: SecurityEventDatabase | None = None
    session_strategies: Sequence[AllTokensDestroying] = ()
    session_stores: Sequence[UserSessionsEnding] = ()

    second_factors: SecondFactorRemoving | None = None
    """Where the users' second factors are (the request's two-factor store, ``MFAStore``), so the
    first proof of a never-verified address (:meth:`prove_address`) removes a factor its registrant
    enrolled; ``None``: none is removed. An app with two-factor login must set it (or give the
    e-mail sign-in service its own)."""

    user_db: BaseUserDatabase[UP, ID]
    password_helper: PasswordHelperProtocol

    def __init__(
        self,
        user_db: BaseUserDatabase[UP, ID],
        password_helper: PasswordHelperProtocol | None = None,
        *,
        security_event_db: SecurityEventDatabase | None = None,
        session_strategies: Sequence[AllTokensDestroying] = (),
        session_stores: Sequence[UserSessionsEnding] = (),
        password_policy: PasswordPolicy | _Default | None = _CLASS_ATTRIBUTE,
        mailer: AccountMailer | _Default | None = _CLASS_ATTRIBUTE,
    ) -> None:
        self.user_db = user_db
        self.password_helper = password_helper if password_helper is not None else PasswordHelper()
        self.security_event_db = security_event_db
        self.session_strategies = tuple(session_strategies)
        self.session_stores = tuple(session_stores)
        if password_policy is not _CLASS_ATTRIBUTE:
            self.password_policy = password_policy
        if mailer is not _CLASS_ATTRIBUTE:
            self.mailer = mailer

    def parse_id(self, value: Any) -> ID:
        """Parse a value into a user id; the ID mixins implement it.

        Raises:
            InvalidID: The value is not a valid id.
        """
        raise NotImplementedError  # pragma: no cover - supplied by UUIDIDMixin / IntegerIDMixin

    # The services are built from the current attributes at each call: an application (or the
    # CLI) may set them on the instance or the class after construction, as with FastAPI Users.

    def _passwords(self) -> passwords.Passwords:
        return passwords.Passwords(self.password_helper, self.password_policy, self.user_db)

    def _writes(self) -> UserWrites[UP, ID]:
        return UserWrites(self.user_db, self._passwords(), self.validate_password)

    # -- reading -----------------------------------------------------------------------------

    async def get(self, id: ID) -> UP:
        """Return the user with this id.

        Raises:
            UserNotExists: No such user.
        """
        return _found(await self.user_db.get(id))

    async def get_by_email(self, user_email: str) -> UP:
        """Return the user with this e-mail address (case-insensitively).

        Raises:
            UserNotExists: No such user.
        """
        return _found(await self.user_db.get_by_email(user_email))

    async def get_by_oauth_account(self, oauth: str, account_id: str) -> UP:
        """Return the user linked to this provider account.

        Raises:
            UserNotExists: No such user.
        """
        return _found(await self.user_db.get_by_oauth_account(oauth, account_id))

    # -- registration and verification -------------------------------------------------------

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
        created_user = await self._writes().create(user_create, safe=safe)
        await self.emit_security_event(SecurityEventType.REGISTERED, request, user_id=created_user.id)
        await self.on_after_register(created_user, request)
        return created_user

    async def request_verify(self, user: UP, request: Request | None = None) -> None:
        """Issue a verification token and hand it to :meth:`on_after_request_verify`.

        Raises:
            UserInactive: The user is deactivated.
            UserAlreadyVerified: Nothing to verify.
        """
        token = tokens.verify_token_for(self, user)
        await self.emit_security_event(SecurityEventType.VERIFICATION_REQUESTED, request, user_id=user.id)
        await self.on_after_request_verify(user, token, request)

    async def verify(self, token: str, request: Request | None = None) -> UP:
        """Mark the user named by a verification token as verified (once).

        Raises:
            InvalidVerifyToken: The token is malformed, expired, or its e-mail address no
                longer belongs to its user.
            UserAlreadyVerified: The user is already verified.
        """
        verified_user = await tokens.redeem_verify_token(self, token)
        await self.emit_security_event(SecurityEventType.VERIFICATION_COMPLETED, request, user_id=verified_user.id)
        await self.on_after_verify(verified_user, request)
        return verified_user

    async def prove_address(
        self,
        user: UP,
        request: Request | None = None,
        *,
        via: str,
        keep_password: bool = False,
        passkeys: PasskeyHolding | None = None,
        second_factors: SecondFactorRemoving | None = None,
    ) -> UP:
        """The first proof of a never-verified address: verify it and take the account back (issue 20).

        Every path that first proves control of the address of a never-verified account calls
        it: the first e-mail sign-in, and a password reset (its link was mailed to the address).
        Not the verify route: a user verifying their own address keeps what they set up.

        Pre-registration takeover (Sudhodanan and Paverd, "Pre-hijacked accounts", USENIX
        Security 2022): anyone can register an address they do not own and wait for the owner to
        start using the account. The registrant never proved the address, so nothing they set
        can be trusted: the password becomes unusable (unless ``keep_password``: a reset's new
        password is the owner's), the passkeys are deleted, the second factor (TOTP and recovery
        codes) is removed, the linked OAuth accounts are unlinked and every session ends, on every
        backend the manager reaches (JWTs too: they carry a fingerprint of the password hash).

        Args:
            user: The never-verified user whose address was just proved.
            request: The request, for the sessions to end, the event and the hook.
            via: What proved the address, recorded in the security event.
            keep_password: Keep the current password (it was just set by the address's owner).
            passkeys: Where the user's passkeys are; ``None``: :attr:`passkeys`.
            second_factors: Where the user's second factor is; ``None``: :attr:`second_factors`.
        """
        update: dict[str, Any] = {"is_verified": True}
        if not keep_password:
            update["hashed_password"] = make_unusable_password()
        user = await self.user_db.update(user, update)
        passkeys = passkeys if passkeys is not None else self.passkeys
        if passkeys is not None:
            await passkeys.delete_all(user.id)
        second_factors = second_factors if second_factors is not None else self.second_factors
        if second_factors is not None:
            await second_factors.remove(user.id)
        user_db = self.user_db
        if removes_oauth_account(user_db):
            for account in list(getattr(user, "oauth_accounts", [])):
                user = await user_db.remove_oauth_account(user, account)
        await self.end_sessions(user, request)
        await self.emit_security_event(
            SecurityEventType.VERIFICATION_COMPLETED,
            request,
            user_id=user.id,
            details={"via": via, "first_proof": "registrant_login_cleared"},
        )
        await self.on_after_verify(user, request)
        return user

    # -- password reset ----------------------------------------------------------------------

    async def forgot_password(self, user: UP, request: Request | None = None) -> None:
        """Issue a single-use reset token and hand it to :meth:`on_after_forgot_password`.

        Raises:
            UserInactive: The user is deactivated.
        """
        token = tokens.reset_token_for(self, user)
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
        updated_user = await tokens.redeem_reset_token(self, token, password)
        if updated_user.is_verified:
            await self.end_sessions(updated_user, request)
        else:
            # The link went to the address: the first proof of it takes the account back from
            # whoever registered it (the new password stays, the owner just chose it).
            updated_user = await self.prove_address(updated_user, request, via="reset_password", keep_password=True)
        await self.emit_security_event(SecurityEventType.PASSWORD_RESET_COMPLETED, request, user_id=updated_user.id)
        await self.on_after_reset_password(updated_user, request)
        return updated_user

    # -- updates and deletion ----------------------------------------------------------------

    async def update(
        self, user_update: BaseUserUpdate, user: UP, safe: bool = False, request: Request | None = None
    ) -> UP:
        """Update a user; a new password or a deactivation ends the user's sessions.

        Args:
            user_update: The fields to change.
            user: The user to change.
            safe: Ignore the privileged fields (what ``PATCH /users/me`` does).
            request: The request, for the hook and the sessions to end.

        Raises:
            UserAlreadyExists: The new e-mail address is taken.
            InvalidPasswordException: The password policy refused the new password.
        """
        update_dict = update_dict_of(user_update, safe)
        old_hash, was_active, old_email = user.hashed_password, user.is_active, user.email
        updated_user = await self._update(user, update_dict)
        if updated_user.hashed_password != old_hash or (was_active and not updated_user.is_active):
            await self.end_sessions(updated_user, request)
        await self._emit_update_events(updated_user, update_dict, old_hash, old_email, request)
        await self.on_after_update(updated_user, redacted(update_dict), request)
        return updated_user

    async def delete(self, user: UP, request: Request | None = None) -> None:
        """Delete a user, calling :meth:`on_before_delete` and :meth:`on_after_delete`.

        The user's sessions end first, while the user row still exists (ASVS 5.0 7.4.2; issue
        16, item 8): Redis has no foreign keys, and a session store may live apart from the users.
        """
        await self.on_before_delete(user, request)
        await self.end_sessions(user, request)
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

        ``None``: ``expected`` no longer held (see :class:`~fastapi_userkit._services.updates.UserWrites`).
        """
        return await self._writes().update(user, update_dict, expected=expected)

    # -- login -------------------------------------------------------------------------------

    async def validate_password(self, password: str, user: BaseUserCreate | UP) -> None:
        """Check a password against :attr:`password_policy`; override to use rules of your own.

        The default applies :class:`~fastapi_userkit.security.PasswordPolicy` (NIST 800-63B:
        at least 8 code points, no composition rules, not a common password, not containing
        the e-mail's local part). An override replaces it, as in FastAPI Users.

        Raises:
            InvalidPasswordException: The password is refused; ``reason`` says why.
        """
        self._passwords().check_policy(password, user.email)

    async def authenticate(self, credentials: OAuth2PasswordRequestForm) -> UP | None:
        """Return the user whose e-mail and password match, or ``None``.

        An unknown e-mail costs one dummy verification, as long as a wrong password (ASVS 5.0
        6.3.8); an outdated hash is replaced on success; a password over the byte cap is refused
        before any lookup (see :mod:`fastapi_userkit._services.passwords`).
        """
        return await passwords.authenticate(self._passwords(), self.user_db, credentials.username, credentials.password)


UserManagerDependency = DependencyCallable[BaseUserManager[UP, ID]]
