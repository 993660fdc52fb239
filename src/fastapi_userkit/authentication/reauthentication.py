"""Re-authentication: an authenticated user proves their factors again, for the same session (issue 18, item 4).

A sensitive change may ask for a recent sign-in, or one with a second factor
(``current_user(fresh_within=300)``, ``current_user(aal=2)``). Signing in again would start a
new session and leave the old one behind; re-authentication instead checks the password (and
the second factor's code when the user has one), then:

* with refresh on, records the new level and time in the token's session (its id, refresh
  token and lifetime stay: the session list still shows one session), so the access tokens its
  refresh token mints from now on carry them;
* issues a fresh access token of that session (or, without refresh, a new token) carrying the
  new assurance, and ends the presented one where the strategy can (OWASP's rule: a new token
  after any change of privilege);
* emits a ``login_succeeded`` security event with ``method=reauthenticate``.

Wrong passwords and codes count as failed logins of the account under the login rate limit
(ASVS 5.0 6.3.1), like the login route's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Generic

from fastapi import Response
from fastapi.security import OAuth2PasswordRequestForm
from starlette.requests import Request

from fastapi_userkit import _mfa_exceptions as mfa_errors
from fastapi_userkit._contracts import SecondFactor
from fastapi_userkit.authentication.assurance import (
    AAL1,
    AAL2,
    Assurance,
    ReauthenticationCodeRequired,
    ReauthenticationFailed,
)
from fastapi_userkit.authentication.backend import AuthenticationBackend
from fastapi_userkit.authentication.strategy import Strategy, StrategyDestroyNotSupportedError
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.ratelimit.limiter import FlowGuard
from fastapi_userkit.sessions import flow as session_flow

__all__ = ["Reauthentication", "SessionEnded"]


class SessionEnded(Exception):  # noqa: N818 - an outcome, answered as the authenticator's 401
    """The token's session ended while its user re-authenticated (a concurrent logout)."""


@dataclass(frozen=True)
class Reauthentication(Generic[UP, ID]):
    """Re-authentication through one backend.

    Args:
        backend: The backend whose token (and session) is renewed.
        guard: The login flow's rate-limit guard: wrong passwords and codes count as failed logins.
        clock: The current time, the new ``auth_time``.
    """

    backend: AuthenticationBackend[UP, ID]
    guard: FlowGuard
    clock: Any = now_utc

    async def check(
        self,
        request: Request,
        user_manager: BaseUserManager[UP, ID],
        user: UP,
        password: str,
        code: str | None,
        second_factor: SecondFactor | None,
    ) -> Assurance:
        """Check ``user``'s password (and second factor, if they have one); return the assurance proved.

        Raises:
            ReauthenticationCodeRequired: The user has a second factor and no code came.
            ReauthenticationFailed: The password is wrong (a failed login of the account).
            InvalidMFACode: The code is wrong, or replayed (``MFACodeReplayed``, with an event).
            fastapi.HTTPException: ``429``/``503`` from the login rate limit.
        """
        needs_code = second_factor is not None and await second_factor.required(user)
        if needs_code and not code:
            raise ReauthenticationCodeRequired()
        async with self.guard.attempt(request, user_manager, user.email) as attempt:
            # The login's own check: one hash in a worker thread, the hash upgraded if due.
            credentials = OAuth2PasswordRequestForm(username=user.email, password=password)
            verified = await user_manager.authenticate(credentials)
            if verified is None or verified.id != user.id:
                await self._failed(request, user_manager, user, "reauthenticate_password")
                raise ReauthenticationFailed()
            if needs_code:
                assert second_factor is not None  # noqa: S101 - needs_code implies it
                await self._verify_code(request, user_manager, user, second_factor, code or "")
            attempt.mark_succeeded()
        return Assurance.now(AAL2 if needs_code else AAL1, clock=self.clock)

    async def renew(
        self, request: Request, strategy: Strategy[UP, ID], user: UP, token: str, assurance: Assurance
    ) -> Response:
        """Record ``assurance`` in the token's session and answer with a fresh token carrying it.

        Raises:
            SessionEnded: The token's session ended meanwhile.
        """
        backend = self.backend
        session_id = session_flow.bound_session_id(strategy, token)
        if backend.sessions is not None and session_id is not None:
            if not await backend.sessions.reauthenticated(session_id, assurance):
                raise SessionEnded()
            new_token = await session_flow.write_bound_token(backend, strategy, user, session_id, assurance)
        else:
            new_token = await backend.write_token(strategy, user, assurance=assurance)
        with contextlib.suppress(StrategyDestroyNotSupportedError):
            await strategy.destroy_token(token, user)
        response: Response = await backend.transport.get_login_response(new_token)
        return response

    async def _verify_code(
        self, request: Request, user_manager: BaseUserManager[UP, ID], user: UP, factor: SecondFactor, code: str
    ) -> None:
        try:
            await factor.verify(user, code)
        except mfa_errors.MFACodeReplayed:
            # RFC 6238 section 5.2 and T41: a replayed code is refused and reported.
            await user_manager.emit_security_event(
                SecurityEventType.MFA_CODE_REPLAYED,
                request,
                user_id=user.id,
                outcome=SecurityEventOutcome.FAILURE,
                details={"backend": self.backend.name},
            )
            await self._failed(request, user_manager, user, "reauthenticate_code_replayed")
            raise
        except mfa_errors.MFAException as exc:
            # A wrong code, or a factor removed or unreadable meanwhile: the code was not accepted.
            await self._failed(request, user_manager, user, "reauthenticate_code")
            if isinstance(exc, mfa_errors.InvalidMFACode):
                raise
            raise mfa_errors.InvalidMFACode() from exc

    async def _failed(self, request: Request, user_manager: BaseUserManager[UP, ID], user: UP, reason: str) -> None:
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_FAILED,
            request,
            user_id=user.id,
            outcome=SecurityEventOutcome.FAILURE,
            details={"backend": self.backend.name, "reason": reason},
        )
