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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic

from fastapi import Response
from fastapi.security import OAuth2PasswordRequestForm
from starlette.requests import Request

from fastapi_userkit import exceptions
from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.authentication.backend import AuthenticationBackend
from fastapi_userkit.authentication.strategy import Strategy
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.security.ratelimit.limiter import FlowGuard

__all__ = ["SignIn"]


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

    async def _failed(self, request: Request, user_manager: BaseUserManager[UP, ID], user: Any, reason: str) -> None:
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_FAILED,
            request,
            user_id=None if user is None else user.id,
            outcome=SecurityEventOutcome.FAILURE,
            details={"backend": self.backend.name, "reason": reason},
        )
