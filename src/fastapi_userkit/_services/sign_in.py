"""The sign-in sequence, written once for every way in: JSON login, the account pages, OAuth.

A sign-in has two halves. :meth:`SignIn.check_password` turns credentials into a user under the
login rate limit, or raises :class:`~fastapi_userkit.exceptions.InvalidCredentials` /
:class:`~fastapi_userkit.exceptions.UserNotVerified` (the routes map them through the one error
table, ``router/common.py``). :meth:`SignIn.complete` signs the checked user in through the
backend: the token (and, with refresh on, the session), the security event and
``on_after_login``. An OAuth callback finds its user another way and calls :meth:`complete` only.
A later factor (a second step, a passkey, an e-mailed code) is added here, once, and every way in
gets it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic

from fastapi import Response, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from starlette.requests import Request

from fastapi_userkit import exceptions
from fastapi_userkit._mfa_exceptions import InvalidMFACode, MFAChallengeInvalid, MFACodeReplayed, MFANotEnabled
from fastapi_userkit.authentication.assurance import AAL2, Assurance
from fastapi_userkit.authentication.backend import AuthenticationBackend
from fastapi_userkit.authentication.strategy import Strategy
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.ratelimit.limiter import FlowGuard

if TYPE_CHECKING:
    from fastapi_userkit.mfa.challenge import ChallengeStore
    from fastapi_userkit.mfa.factor import TOTPSecondFactor

__all__ = ["MFA_REQUIRED", "SecondStep", "SignIn"]

MFA_REQUIRED = "MFA_REQUIRED"
"""The ``detail`` of a login answered with a second-factor challenge instead of a token."""


@dataclass(frozen=True)
class SecondStep:
    """What one login request needs for a second step (made per request by ``MFA``'s dependency).

    Attributes:
        factor: The request's second factor (TOTP and recovery codes).
        challenges: Where login challenges are kept.
        clock: The current time.
        lifetime: How long a challenge can be answered.
        max_attempts: Codes one challenge accepts.
    """

    factor: TOTPSecondFactor
    challenges: ChallengeStore
    clock: Callable[[], datetime]
    lifetime: timedelta
    max_attempts: int


@dataclass(frozen=True)
class SignIn(Generic[UP, ID]):
    """How users sign in through one backend.

    Args:
        backend: The backend whose tokens (and sessions) a sign-in issues.
        guard: The login flow's rate-limit guard (by default none: an OAuth callback checks no password).
        requires_verification: Sign in verified users only.
    """

    backend: AuthenticationBackend[UP, ID]
    guard: FlowGuard = field(default_factory=lambda: FlowGuard(None, "login"))
    requires_verification: bool = False

    async def check_password(
        self, request: Request, user_manager: BaseUserManager[UP, ID], email: str, password: str
    ) -> UP:
        """Return the user whose credentials these are, counting failures per account and per IP.

        While the account waits out a delay, even the right password is refused (ASVS 5.0 6.3.1,
        NIST SP 800-63B 5.2.2).

        Raises:
            InvalidCredentials: Unknown e-mail, wrong password or inactive user, alike (ASVS 5.0 6.3.8).
            UserNotVerified: The right credentials of an unverified user, with ``requires_verification``.
            fastapi.HTTPException: ``429`` when a limit is reached, ``503`` when the counter store
                fails and ``fail_open`` is off.
        """
        credentials = OAuth2PasswordRequestForm(username=email, password=password)
        async with self.guard.attempt(request, user_manager, email) as attempt:
            user = await user_manager.authenticate(credentials)
            if user is None or not user.is_active:
                await self._failed(request, user_manager, user, "bad_credentials")
                raise exceptions.InvalidCredentials()
            attempt.mark_succeeded()
            if self.requires_verification and not user.is_verified:
                await self._failed(request, user_manager, user, "not_verified")
                raise exceptions.UserNotVerified()
        return user

    async def complete(
        self,
        request: Request,
        user_manager: BaseUserManager[UP, ID],
        strategy: Strategy[UP, ID],
        user: UP,
        *,
        respond: Callable[[Response], Response] | None = None,
        assurance: Assurance | None = None,
    ) -> Response:
        """Sign ``user``, who has passed every check, in; return the response ``on_after_login`` saw.

        Args:
            request: The request signing in.
            user_manager: The request's user manager.
            strategy: The backend's strategy for this request.
            user: The user to sign in.
            respond: Turns the backend's login response into the route's own (a page's or an
                OAuth callback's redirect carrying its cookies); the backend's response by default.
            assurance: How the user proved who they are: its level and time go into the token
                and the session (issue 18). ``None``: one factor, now.
        """
        if assurance is None:
            assurance = Assurance.now()
        login = await self.backend.login_for_request(strategy, user, request, assurance=assurance)
        response = login if respond is None else respond(login)
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_SUCCEEDED, request, user_id=user.id, details={"backend": self.backend.name}
        )
        await user_manager.on_after_login(user, request, response)
        return response

    async def challenge(
        self, request: Request, user_manager: BaseUserManager[UP, ID], user: UP, second_step: SecondStep | None
    ) -> Response | None:
        """Answer a checked user who has a second factor with a login challenge; ``None`` for others.

        The challenge (issue 18, item 3) is a ``202`` with ``{"detail": "MFA_REQUIRED",
        "challenge_token": ..., "methods": [...]}``; no token, cookie or session is issued. Only
        the token's digest is stored, bound to the user and this backend, for the configured
        lifetime (at most five minutes). Without two-factor settings, or for a user without an
        active factor, nothing happens and the caller completes the sign-in as before.

        Args:
            request: The request signing in.
            user_manager: The request's user manager.
            user: The user whose first factor was checked.
            second_step: The request's second-step helpers (``None``: two-factor login is off).
        """
        if second_step is None or not await second_step.factor.required(user):
            return None
        # Imported here: the two-factor package needs the ``mfa`` extra, and only an app that
        # configured it reaches this line.
        from fastapi_userkit.mfa.challenge import challenge_digest, new_challenge_token

        token = new_challenge_token()
        await second_step.challenges.create(
            challenge_digest(token),
            user_id=user.id,
            backend=self.backend.name,
            now=second_step.clock(),
            lifetime=second_step.lifetime,
        )
        methods = await second_step.factor.methods(user)
        await user_manager.emit_security_event(
            SecurityEventType.MFA_CHALLENGE_ISSUED, request, user_id=user.id, details={"backend": self.backend.name}
        )
        return JSONResponse(
            {"detail": MFA_REQUIRED, "challenge_token": token, "methods": list(methods)},
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Cache-Control": "no-store"},
        )

    async def complete_challenge(
        self,
        request: Request,
        user_manager: BaseUserManager[UP, ID],
        strategy: Strategy[UP, ID],
        second_step: SecondStep,
        challenge_token: str,
        code: str,
    ) -> Response:
        """Answer a login challenge with a TOTP or recovery code; sign the user in on success.

        Every attempt counts against the challenge (at most ``challenge_attempts``) and, when
        wrong, as a failed login of the account under the login rate limit. The first right
        code spends the challenge and signs in exactly as :meth:`complete` does.

        Raises:
            MFAChallengeInvalid: The challenge is unknown, expired, spent, out of attempts, of
                another backend, or its user is gone, inactive or has no factor any more.
            MFACodeReplayed: A TOTP code already accepted (a security event is emitted).
            InvalidMFACode: Any other wrong code.
            fastapi.HTTPException: ``429``/``503`` from the login rate limit.
        """

        async def verify_code(user: UP) -> None:
            await self._verify_code(request, user_manager, second_step, user, code)

        return await self.complete_challenge_with(
            request, user_manager, strategy, second_step, challenge_token, verify_code
        )

    async def challenge_user(
        self, user_manager: BaseUserManager[UP, ID], second_step: SecondStep, challenge_token: str
    ) -> UP:
        """The active user a live login challenge of this backend was issued to; counts one attempt.

        A second factor that needs a round trip before it can answer (a passkey's options, bound
        to the challenge) finds its user here; each call counts against ``challenge_attempts``.

        Raises:
            MFAChallengeInvalid: The challenge is unknown, expired, spent, out of attempts, of
                another backend, or its user is gone or inactive.
        """
        from fastapi_userkit.mfa.challenge import challenge_digest

        user_id = await second_step.challenges.attempt(
            challenge_digest(challenge_token),
            backend=self.backend.name,
            now=second_step.clock(),
            max_attempts=second_step.max_attempts,
        )
        if user_id is None:
            raise MFAChallengeInvalid
        try:
            user = await user_manager.get(user_manager.parse_id(user_id))
        except (exceptions.UserNotExists, exceptions.InvalidID) as exc:
            raise MFAChallengeInvalid from exc
        if not user.is_active:
            raise MFAChallengeInvalid
        return user

    async def complete_challenge_with(
        self,
        request: Request,
        user_manager: BaseUserManager[UP, ID],
        strategy: Strategy[UP, ID],
        second_step: SecondStep,
        challenge_token: str,
        verify: Callable[[UP], Awaitable[None]],
    ) -> Response:
        """Answer a login challenge with any second factor ``verify`` checks; sign the user in at AAL2.

        The one completion of every second factor (a code, a passkey): the attempt counts against
        the challenge and, when ``verify`` raises, as a failed login of the account under the
        login rate limit; success spends the challenge (once, of concurrent completions) and
        signs in as :meth:`complete` does, at AAL2 (NIST SP 800-63B section 4.2).

        Args:
            request: The request signing in.
            user_manager: The request's user manager.
            strategy: The backend's strategy for this request.
            second_step: The request's second-step helpers.
            challenge_token: The token of the ``202`` challenge.
            verify: Checks the second factor of the challenge's user; raises a domain error if
                it is wrong (the error propagates after being counted).

        Raises:
            MFAChallengeInvalid: See :meth:`challenge_user`; or a concurrent completion won.
            fastapi.HTTPException: ``429``/``503`` from the login rate limit.
        """
        from fastapi_userkit.mfa.challenge import challenge_digest

        user = await self.challenge_user(user_manager, second_step, challenge_token)
        email = user.email
        async with self.guard.attempt(request, user_manager, email) as attempt:
            await verify(user)
            attempt.mark_succeeded()
        if not await second_step.challenges.consume(challenge_digest(challenge_token)):
            raise MFAChallengeInvalid  # a concurrent completion spent it first
        # Two factors proved, now: the token and the session carry AAL2 (NIST SP 800-63B section 4.2).
        return await self.complete(request, user_manager, strategy, user, assurance=Assurance.now(AAL2))

    async def _verify_code(
        self, request: Request, user_manager: BaseUserManager[UP, ID], second_step: SecondStep, user: UP, code: str
    ) -> None:
        # Read before the store decides: a refused code rolls back a session the app may share
        # with its user database, and a rollback expires the loaded user (no lazy load in async).
        user_id = user.id
        try:
            await second_step.factor.verify(user, code)
        except MFANotEnabled as exc:  # the factor was removed after the password step
            raise MFAChallengeInvalid from exc
        except MFACodeReplayed:
            # RFC 6238 section 5.2 and T41: a replayed code is refused and reported.
            await user_manager.emit_security_event(
                SecurityEventType.MFA_CODE_REPLAYED,
                request,
                user_id=user_id,
                outcome=SecurityEventOutcome.FAILURE,
                details={"backend": self.backend.name},
            )
            await self._code_failed(request, user_manager, user_id, "mfa_code_replayed")
            raise
        except InvalidMFACode:
            await self._code_failed(request, user_manager, user_id, "mfa_invalid_code")
            raise

    async def _code_failed(
        self, request: Request, user_manager: BaseUserManager[UP, ID], user_id: Any, reason: str
    ) -> None:
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_FAILED,
            request,
            user_id=user_id,
            outcome=SecurityEventOutcome.FAILURE,
            details={"backend": self.backend.name, "reason": reason},
        )

    async def _failed(self, request: Request, user_manager: BaseUserManager[UP, ID], user: Any, reason: str) -> None:
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_FAILED,
            request,
            user_id=None if user is None else user.id,
            outcome=SecurityEventOutcome.FAILURE,
            details={"backend": self.backend.name, "reason": reason},
        )
