"""Passwords as the manager handles them: the policy, the size guard, hashing, and checking a login.

* The policy (:class:`~fastapi_userkit.security.PasswordPolicy`, NIST 800-63B 5.1.1.2) is the
  default of ``validate_password``; an application that overrides that method replaces it.
* The byte cap applies even then: it protects the hasher (a hashing-DoS guard), not the account.
* Hashing runs in a worker thread (:mod:`fastapi_userkit.security.password_hashing`), after the
  user database has given its connection back when it can
  (:class:`~fastapi_userkit._contracts.ConnectionReleasing`): no pooled connection waits on Argon2.
* A login with an unknown e-mail, or for an account without a usable password, costs one
  verification against a dummy hash, like a wrong password (ASVS 5.0 6.3.8); a hash made with an
  old algorithm or weaker parameters is replaced on success.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi_userkit import exceptions
from fastapi_userkit._contracts import releases_connection
from fastapi_userkit._email_forms import login_email
from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit.db.base import BaseUserDatabase
from fastapi_userkit.models import ID, UP
from fastapi_userkit.password import PasswordHelperProtocol, dummy_hash
from fastapi_userkit.security.password_hashing import hash_normalized_password, verify_normalized_password
from fastapi_userkit.security.password_policy import PasswordPolicy

__all__ = ["Passwords", "authenticate"]


@dataclass(frozen=True)
class Passwords:
    """The manager's password helper and policy, and the storage to release before hashing.

    Args:
        helper: Hashes and verifies.
        policy: The default rules and the byte cap; ``None`` turns both off.
        storage: The user database (its connection is given back before a hash when it can).
    """

    helper: PasswordHelperProtocol
    policy: PasswordPolicy | None
    storage: object

    def check_size(self, password: str) -> None:
        """Refuse a password over the policy's byte cap, before any hashing.

        Raises:
            InvalidPasswordException: The password is too long to hash.
        """
        if self.policy is not None and self.policy.exceeds_max_bytes(password):
            raise exceptions.InvalidPasswordException(
                reason=f"The password must be at most {self.policy.max_bytes} bytes long."
            )

    def check_policy(self, password: str, email: str | None) -> None:
        """Apply the policy's rules (the default ``validate_password``).

        Raises:
            InvalidPasswordException: The policy refused the password; ``reason`` says why.
        """
        if self.policy is not None:
            self.policy.check(password, email=email)

    async def release_storage(self) -> None:
        """Give the database connection back before a slow hash (when the adapter can)."""
        if releases_connection(self.storage):
            await self.storage.release_connection()

    async def hash(self, password: str) -> str:
        """Hash ``password`` in a worker thread, holding no database connection meanwhile."""
        await self.release_storage()
        return await hash_normalized_password(self.helper, password)


async def authenticate(passwords: Passwords, user_db: BaseUserDatabase[UP, ID], email: str, password: str) -> UP | None:
    """Return the user whose e-mail and password these are, or ``None`` (see the module docstring)."""
    # Depends on the input alone, so it tells nothing about the account.
    if passwords.policy is not None and passwords.policy.exceeds_max_bytes(password):
        return None
    # Looked up in the form registration stored (NFC), so an NFD spelling finds its account (issue 16).
    user = await user_db.get_by_email(login_email(email))
    await passwords.release_storage()
    # A user created by OAuth has no password at all; it costs the same dummy run, so timing
    # does not tell such accounts apart either. One cached dummy hash per parameter set
    # (:func:`fastapi_userkit.password.dummy_hash`).
    if user is None or not has_usable_password(user.hashed_password):
        await verify_normalized_password(passwords.helper, password, await dummy_hash(passwords.helper))
        return None
    verified, updated_hash = await verify_normalized_password(passwords.helper, password, user.hashed_password)
    if not verified:
        return None
    if updated_hash is not None:
        user = await user_db.update(user, {"hashed_password": updated_hash})
    return user
