"""What the manager does when an OAuth provider vouches for an account.

:class:`OAuthAccounts` holds the manager's three OAuth methods (FastAPI Users' ``oauth_callback``
and ``oauth_associate_callback``, and ``oauth_unlink``); :class:`~fastapi_userkit.manager.BaseUserManager`
inherits them, as it inherits its hooks, so the manager module stays a facade. Differences from
FastAPI Users (contract section 4.9):

* a provider account ``(oauth_name, account_id)`` belongs to at most one user: the table has a
  unique constraint, and associating an account linked to someone else raises
  :class:`OAuthAccountAlreadyLinked` instead of creating a second link;
* associating an account already linked to the same user refreshes it instead of duplicating it;
* a new user and its OAuth account are written in one transaction when the adapter can
  (``create_with_oauth_account``), so a failure never leaves a user without its account;
* a user created by OAuth gets an *unusable* password marker instead of the hash of a random
  password nobody knows (django.contrib.auth's ``set_unusable_password``). No password ever
  matches it, and it tells :func:`oauth_unlink` that the user's linked accounts are their only
  way to log in. A password reset (or a password update) replaces it with a real hash;
* :func:`oauth_unlink` removes a link, refusing the last one of a user without a usable password
  and without a passkey (:attr:`OAuthAccounts.passkeys`; the passkey routes apply the same rule
  from the other side, issue 19).
"""

from __future__ import annotations

import secrets
from typing import Any, Generic, Protocol, runtime_checkable

from fastapi import Request

from fastapi_userkit import exceptions
from fastapi_userkit._contracts import creates_with_oauth_account, removes_oauth_account
from fastapi_userkit._manager_hooks import UserManagerHooks
from fastapi_userkit.db.base import BaseUserDatabase
from fastapi_userkit.models import ID, UP

__all__ = [
    "UNUSABLE_PASSWORD_PREFIX",
    "OAuthAccounts",
    "PasskeyHolding",
    "has_oauth_accounts",
    "has_usable_password",
    "make_unusable_password",
]

UNUSABLE_PASSWORD_PREFIX = "!"  # noqa: S105 - a marker meaning "no password", not a password
"""Starts every unusable password marker; no password hash format starts with it."""


def make_unusable_password() -> str:
    """Return a ``hashed_password`` value that no password matches.

    The random tail keeps markers distinct, so anything keyed on the hash (reset-token and JWT
    fingerprints) still differs between users.
    """
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def has_usable_password(hashed_password: str) -> bool:
    """Whether ``hashed_password`` is a real hash rather than an unusable marker."""
    return not hashed_password.startswith(UNUSABLE_PASSWORD_PREFIX)


def has_oauth_accounts(user: Any) -> bool:
    """Whether ``user`` has a linked OAuth account (a user table without the relationship has none)."""
    return bool(getattr(user, "oauth_accounts", None))


@runtime_checkable
class PasskeyHolding(Protocol):
    """Counts and removes a user's passkeys (a :class:`~fastapi_userkit.passkeys.PasskeyService` does)."""

    async def has_passkeys(self, user_id: Any) -> bool:
        """Whether the user has at least one passkey."""
        ...  # pragma: no cover

    async def delete_all(self, user_id: Any) -> int:
        """Delete every passkey of the user; return how many went (the first e-mail sign-in of a
        never-verified account removes what its registrant set up, issue 20)."""
        ...  # pragma: no cover


def _find_account(user: Any, oauth_name: str, account_id: str) -> Any | None:
    for account in getattr(user, "oauth_accounts", []):
        if account.oauth_name == oauth_name and account.account_id == account_id:
            return account
    return None


def _account_dict(
    oauth_name: str,
    access_token: str,
    account_id: str,
    account_email: str,
    expires_at: int | None,
    refresh_token: str | None,
) -> dict[str, Any]:
    return {
        "oauth_name": oauth_name,
        "access_token": access_token,
        "account_id": account_id,
        "account_email": account_email,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
    }


class OAuthAccounts(UserManagerHooks[UP, ID], Generic[UP, ID]):
    """The OAuth methods of :class:`~fastapi_userkit.manager.BaseUserManager` (inherited from here)."""

    user_db: BaseUserDatabase[UP, ID]

    passkeys: PasskeyHolding | None = None
    """Where the user's passkeys are (the request's ``PasskeyService``), so unlinking the last OAuth
    account of a user without a password is allowed when a passkey remains; ``None``: passkeys
    are not counted (the safe side: such an unlink is refused)."""

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

        The linked user is returned (its account's tokens refreshed); else, with
        ``associate_by_email``, the user with this address gets the account linked; else a new
        user is created, without a usable password, together with its account.

        Raises:
            UserAlreadyExists: The e-mail address belongs to a user and ``associate_by_email`` is off.
        """
        account_dict = _account_dict(oauth_name, access_token, account_id, account_email, expires_at, refresh_token)
        user_db = self.user_db
        user = await user_db.get_by_oauth_account(oauth_name, account_id)
        if user is not None:
            account = _find_account(user, oauth_name, account_id)
            if account is not None:
                user = await user_db.update_oauth_account(user, account, account_dict)
            return user

        user = await user_db.get_by_email(account_email)
        if user is not None:
            if not associate_by_email:
                raise exceptions.UserAlreadyExists()
            return await user_db.add_oauth_account(user, account_dict)

        user_dict = {
            "email": account_email,
            "hashed_password": make_unusable_password(),
            "is_verified": is_verified_by_default,
        }
        if creates_with_oauth_account(user_db):
            user = await user_db.create_with_oauth_account(user_dict, account_dict)
        else:
            user = await user_db.create(user_dict)
            user = await user_db.add_oauth_account(user, account_dict)
        await self.on_after_register(user, request)
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
        """Link an OAuth account to ``user`` (an account already linked to them is refreshed).

        Raises:
            OAuthAccountAlreadyLinked: The provider account belongs to another user.
        """
        account_dict = _account_dict(oauth_name, access_token, account_id, account_email, expires_at, refresh_token)
        user_db = self.user_db
        owner = await user_db.get_by_oauth_account(oauth_name, account_id)
        if owner is not None and owner.id != user.id:
            raise exceptions.OAuthAccountAlreadyLinked()
        account = _find_account(owner, oauth_name, account_id) if owner is not None else None
        if account is not None:
            user = await user_db.update_oauth_account(user, account, account_dict)
        else:
            user = await user_db.add_oauth_account(user, account_dict)
        await self.on_after_update(user, {}, request)
        return user

    async def oauth_unlink(self, user: UP, oauth_name: str, account_id: str, request: Request | None = None) -> UP:
        """Unlink an OAuth account from ``user`` (new in fastapi-userkit).

        A user without a usable password (created by OAuth and never given one) keeps at least
        one linked account, unless they have a passkey (counted when :attr:`passkeys` is set):
        without a way in, only a password reset could let them in again.

        An unlink allowed because of another way in checks again once committed, with the user
        re-read (and their passkeys counted afresh): if that way went meanwhile (the password
        removed, the last passkey deleted by a concurrent request), the account is linked back
        and the unlink refused, so racing removals never leave the user without a way in (see
        :func:`fastapi_userkit.passkeys.accounts.delete_passkey`).

        Raises:
            OAuthAccountNotLinked: ``user`` has no such linked account.
            OAuthLastLoginMethod: It is the last account of a user without a usable password or a passkey.
            NotImplementedError: The storage adapter cannot remove OAuth accounts.
        """
        account = _find_account(user, oauth_name, account_id)
        if account is None:
            raise exceptions.OAuthAccountNotLinked()
        user_db = self.user_db
        if not removes_oauth_account(user_db):
            raise NotImplementedError(f"{type(user_db).__name__} cannot remove OAuth accounts")
        unless_last = not has_usable_password(user.hashed_password) and not (
            self.passkeys is not None and await self.passkeys.has_passkeys(user.id)
        )
        relink = _account_dict(
            account.oauth_name,
            account.access_token,
            account.account_id,
            account.account_email,
            account.expires_at,
            account.refresh_token,
        )
        unlinked: UP = await user_db.remove_oauth_account(user, account, unless_last=unless_last)
        if not unless_last and not await self._has_a_way_in(unlinked):
            await self.user_db.add_oauth_account(unlinked, relink)
            raise exceptions.OAuthLastLoginMethod()
        await self.on_after_update(unlinked, {}, request)
        return unlinked

    async def _has_a_way_in(self, user: UP) -> bool:
        """Whether ``user`` (as just re-read by the adapter) has a usable password, an OAuth account or a passkey."""
        if has_usable_password(user.hashed_password) or has_oauth_accounts(user):
            return True
        return self.passkeys is not None and await self.passkeys.has_passkeys(user.id)
