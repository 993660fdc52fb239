"""What a token is: the strategy that writes, reads and destroys it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Protocol, runtime_checkable

# Declared in the package's leaf module of capabilities, which the manager imports without a cycle.
from fastapi_userkit._contracts import RevokeAllStrategy, StrategyDestroyNotSupportedError
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP

if TYPE_CHECKING:
    from fastapi_userkit.authentication.assurance import Assurance

__all__ = [
    "AssuranceBoundStrategy",
    "BackendBoundStrategy",
    "RevokeAllStrategy",
    "Strategy",
    "StrategyDestroyNotSupportedError",
]


class Strategy(Protocol, Generic[UP, ID]):
    """Turns a user into a token and back."""

    async def read_token(self, token: str | None, user_manager: BaseUserManager[UP, ID]) -> UP | None:
        """Return the token's user, or ``None`` if the token is missing, invalid or revoked."""
        ...  # pragma: no cover - protocol

    async def write_token(self, user: UP) -> str:
        """Issue a token for ``user``."""
        ...  # pragma: no cover - protocol

    async def destroy_token(self, token: str, user: UP) -> None:
        """Revoke ``token``.

        Raises:
            StrategyDestroyNotSupportedError: The strategy keeps no state to revoke.
        """
        ...  # pragma: no cover - protocol


@runtime_checkable
class BackendBoundStrategy(Strategy[UP, ID], Protocol):
    """A strategy whose tokens name the backend, and the session, that issued them (new in fastapi-userkit).

    Every strategy of the library is one. An authentication backend passes its tag when it
    issues a token and accepts only tokens that carry its own tag or none, so a token that one
    backend has ended (logout, session ended, family killed, revoked) is not taken up by a sibling
    backend that shares the strategy's secret or storage (issue 16). A token names a session only
    when a backend with refresh on issued it; the backend that accepts it checks that session.
    """

    async def write_token(self, user: UP, *, session_id: str | None = None, backend_tag: str | None = None) -> str:
        """Issue a token for ``user`` that names ``session_id`` and ``backend_tag`` when given."""
        ...  # pragma: no cover - protocol

    def session_id_of(self, token: str) -> str | None:
        """The session named by a token :meth:`read_token` has just accepted, or ``None``."""
        ...  # pragma: no cover - protocol

    def backend_tag_of(self, token: str) -> str | None:
        """The tag of the backend that issued a token :meth:`read_token` has just accepted, or ``None``."""
        ...  # pragma: no cover - protocol


@runtime_checkable
class AssuranceBoundStrategy(BackendBoundStrategy[UP, ID], Protocol):
    """A strategy whose tokens say how the user signed in (issue 18; every strategy of the library is one).

    The backend passes the :class:`~fastapi_userkit.authentication.assurance.Assurance` of the
    sign-in (or of the session a refresh continues) when it issues a token; the authenticator
    reads it back from a token the strategy has just accepted. It is signed (a JWT claim) or
    covered by the stored digest (an opaque token), so a client cannot raise it.
    """

    async def write_token(
        self,
        user: UP,
        *,
        session_id: str | None = None,
        backend_tag: str | None = None,
        assurance: Assurance | None = None,
    ) -> str:
        """Issue a token for ``user`` that also carries ``assurance`` when given."""
        ...  # pragma: no cover - protocol

    def assurance_of(self, token: str) -> Assurance:
        """The assurance a token :meth:`read_token` has just accepted carries (level 1, time unknown if none)."""
        ...  # pragma: no cover - protocol
