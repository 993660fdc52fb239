"""The optional capabilities of collaborators, declared once (issue 17, "declared contracts").

A user database, a strategy, a transport or a user manager may offer more than the FastAPI Users
contract asks of it: end every token of a user, create a user and its OAuth account in one
transaction, hand its connection back before a slow hash. Each such capability is a
``runtime_checkable`` protocol here, checked once per class (:func:`releases_connection` and its siblings) or at wiring
time, instead of being discovered with ``getattr(obj, "name", None)``: renaming a method now
breaks a type check and a test, where a probe silently turned a security feature off.

The module imports nothing from the package, so the manager, the strategies and the routers can
all depend on it without an import cycle (``tests/test_architecture.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, runtime_checkable

if TYPE_CHECKING:
    from fastapi import Request, Response

__all__ = [
    "AllTokensDestroying",
    "ConnectionReleasing",
    "ExpiredTokenPurging",
    "Expiring",
    "OAuthAccountCreating",
    "OAuthAccountRemoving",
    "RefreshTransport",
    "RevokeAllStrategy",
    "SecondFactor",
    "SecondFactorRemoving",
    "SecurityEventEmitter",
    "StrategyDestroyNotSupportedError",
    "carries_refresh",
    "creates_with_oauth_account",
    "destroys_all_tokens",
    "emits_security_events",
    "purges_expired_tokens",
    "releases_connection",
    "removes_oauth_account",
    "revokes_all",
]


class StrategyDestroyNotSupportedError(Exception):
    """The strategy cannot destroy a single token (a JWT without a revocation table)."""


@runtime_checkable
class AllTokensDestroying(Protocol):
    """A strategy that can end every token of a user; what the manager calls at "log out everywhere".

    A password change, a deactivation and a deletion call it on every strategy that has it; one
    raising :class:`StrategyDestroyNotSupportedError` is skipped.
    """

    async def destroy_all_tokens(self, user: Any) -> None:
        """End every token of ``user``.

        Raises:
            StrategyDestroyNotSupportedError: The configuration keeps no state to end them.
        """
        ...  # pragma: no cover - protocol


@runtime_checkable
class RevokeAllStrategy(AllTokensDestroying, Protocol):
    """A strategy that may be able to end every token of a user ("log out everywhere").

    It also says whether it can, as configured, so the routes know whether to offer it.
    """

    @property
    def can_destroy_all_tokens(self) -> bool:
        """Whether :meth:`destroy_all_tokens` ends every token of a user with this configuration."""
        ...  # pragma: no cover - protocol


@runtime_checkable
class ConnectionReleasing(Protocol):
    """A user database that can give its connection back before a slow password hash.

    The SQLAlchemy adapter can: a login then holds no pooled connection while it hashes.
    """

    async def release_connection(self) -> None:
        """End the session's transaction and return its connection to the pool."""
        ...  # pragma: no cover - protocol


@runtime_checkable
class OAuthAccountCreating(Protocol):
    """A user database that writes a new user and its OAuth account in one transaction."""

    async def create_with_oauth_account(self, create_dict: dict[str, Any], oauth_account_dict: dict[str, Any]) -> Any:
        """Create the user and link the account; neither is written if either fails."""
        ...  # pragma: no cover - protocol


@runtime_checkable
class OAuthAccountRemoving(Protocol):
    """A user database that can unlink an OAuth account (new in fastapi-userkit)."""

    async def remove_oauth_account(self, user: Any, oauth_account: Any, *, unless_last: bool = False) -> Any:
        """Remove ``oauth_account`` from ``user``; with ``unless_last``, refuse the user's last one.

        Raises:
            OAuthLastLoginMethod: ``unless_last`` and it is the user's last linked account.
        """
        ...  # pragma: no cover - protocol


@runtime_checkable
class ExpiredTokenPurging(Protocol):
    """An access-token database that can delete the rows of expired tokens in one statement."""

    async def delete_expired(self, max_age: Any) -> int:
        """Delete the tokens created before ``max_age``; return how many."""
        ...  # pragma: no cover - protocol


@runtime_checkable
class RefreshTransport(Protocol):
    """A transport that can carry a refresh token next to the access token (new in fastapi-userkit)."""

    async def get_login_response_with_refresh(
        self, token: str, refresh_token: str, *, expires_in: int | None, refresh_cookie: Any
    ) -> Response:
        """Build the login response that hands both tokens to the client."""
        ...  # pragma: no cover - protocol


@runtime_checkable
class SecurityEventEmitter(Protocol):
    """A user manager that records security events (every ``BaseUserManager`` is one)."""

    async def emit_security_event(
        self,
        event_type: Any,
        request: Request | None = None,
        /,
        *,
        user_id: Any = None,
        outcome: Any = None,
        details: dict[str, str] | None = None,
    ) -> None:
        """Record one security event."""
        ...  # pragma: no cover - protocol


# One answer per (class, protocol): a runtime-checkable protocol is checked attribute by
# attribute, too slow for every request, and a class does not change what it implements.
_ANSWERS: dict[tuple[type, type], bool] = {}


@runtime_checkable
class Expiring(Protocol):
    """A strategy whose tokens live a known time (the library's strategies: ``lifetime_seconds``).

    The refresh flow answers it as ``expires_in`` (RFC 6749 section 5.1).
    """

    lifetime_seconds: int | None


@runtime_checkable
class SecondFactor(Protocol):
    """A user's second factor, as the sign-in service and re-authentication see it (issue 18).

    The sign-in service asks :meth:`required` after the first factor and, when it is ``True``,
    answers with a challenge instead of a token; the challenge route and the re-authentication
    route call :meth:`verify`. The two-factor package implements it over its store; an app
    without two-factor login has none, and nothing changes for it.
    """

    async def required(self, user: Any) -> bool:
        """Whether ``user`` has a confirmed second factor (a sign-in then needs a second step)."""
        ...  # pragma: no cover

    async def verify(self, user: Any, code: str) -> str:
        """Check ``code`` (a one-time code or a recovery code) and spend it; return the method used.

        Raises:
            FastAPIUsersException: A subclass with a stable ``code`` for a wrong, replayed or
                unusable code (mapped through the error table).
        """
        ...  # pragma: no cover


@runtime_checkable
class SecondFactorRemoving(Protocol):
    """Removes a user's second factor: the two-factor store (:class:`~fastapi_userkit.mfa.MFAStore`) is one.

    The first proof of a never-verified address (:meth:`~fastapi_userkit.BaseUserManager.prove_address`)
    removes a factor whoever registered the address enrolled (issue 20).
    """

    async def remove(self, user_id: Any) -> bool:
        """Delete the user's TOTP factor (active or pending) and recovery codes; ``True`` if a factor was there."""
        ...  # pragma: no cover - protocol


def _implements(obj: object, protocol: type) -> bool:
    key = (type(obj), protocol)
    known = _ANSWERS.get(key)
    if known is None:
        known = _ANSWERS[key] = isinstance(obj, protocol)
    return known


def releases_connection(user_db: object) -> TypeGuard[ConnectionReleasing]:
    """Whether ``user_db`` is a :class:`ConnectionReleasing` (cached per class)."""
    return _implements(user_db, ConnectionReleasing)


def creates_with_oauth_account(user_db: object) -> TypeGuard[OAuthAccountCreating]:
    """Whether ``user_db`` is an :class:`OAuthAccountCreating` (cached per class)."""
    return _implements(user_db, OAuthAccountCreating)


def removes_oauth_account(user_db: object) -> TypeGuard[OAuthAccountRemoving]:
    """Whether ``user_db`` is an :class:`OAuthAccountRemoving` (cached per class)."""
    return _implements(user_db, OAuthAccountRemoving)


def purges_expired_tokens(database: object) -> TypeGuard[ExpiredTokenPurging]:
    """Whether ``database`` is an :class:`ExpiredTokenPurging` (cached per class)."""
    return _implements(database, ExpiredTokenPurging)


def carries_refresh(transport: object) -> TypeGuard[RefreshTransport]:
    """Whether ``transport`` is a :class:`RefreshTransport` (cached per class)."""
    return _implements(transport, RefreshTransport)


def emits_security_events(manager: object) -> TypeGuard[SecurityEventEmitter]:
    """Whether ``manager`` is a :class:`SecurityEventEmitter` (cached per class)."""
    return _implements(manager, SecurityEventEmitter)


def destroys_all_tokens(strategy: object) -> TypeGuard[AllTokensDestroying]:
    """Whether ``strategy`` is an :class:`AllTokensDestroying` (cached per class)."""
    return _implements(strategy, AllTokensDestroying)


def revokes_all(strategy: object) -> TypeGuard[RevokeAllStrategy]:
    """Whether ``strategy`` is a :class:`RevokeAllStrategy` (cached per class; it may still be unable)."""
    return _implements(strategy, RevokeAllStrategy)
