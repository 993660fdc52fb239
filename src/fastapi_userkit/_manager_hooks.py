"""The hooks of the user manager, and the security events it emits.

FastAPI Users' hooks keep their names and signatures; their default bodies do nothing unless
the application configured a mailer (then they send the account e-mails) or a security-event
store. :class:`~fastapi_userkit.manager.BaseUserManager` inherits them from here, so an
application overrides them on its ``UserManager`` exactly as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generic

from fastapi import Request, Response

from fastapi_userkit.models import ID, UP
from fastapi_userkit.security.events import (
    SECURITY_LOGGER_NAME,
    SecurityEvent,
    SecurityEventDatabase,
    SecurityEventOutcome,
    SecurityEventType,
    log_security_event,
)

if TYPE_CHECKING:
    from fastapi_userkit.mail.account import AccountMailer

__all__ = ["UserManagerHooks"]

_logger = logging.getLogger(SECURITY_LOGGER_NAME)


class UserManagerHooks(Generic[UP, ID]):
    """Hooks and security events of :class:`~fastapi_userkit.manager.BaseUserManager`."""

    mailer: AccountMailer | None
    security_event_db: SecurityEventDatabase | None

    # -- security events ---------------------------------------------------------------------

    async def emit_security_event(
        self,
        type: SecurityEventType,
        request: Request | None = None,
        *,
        user_id: Any = None,
        outcome: SecurityEventOutcome = SecurityEventOutcome.SUCCESS,
        details: dict[str, str] | None = None,
    ) -> None:
        """Build a :class:`~fastapi_userkit.security.SecurityEvent` and pass it to :meth:`on_security_event`."""
        event = SecurityEvent.from_request(type, request, user_id=user_id, outcome=outcome, details=details)
        await self.on_security_event(event)

    async def _emit_update_events(
        self, user: UP, update_dict: dict[str, Any], old_hash: str, old_email: str, request: Request | None
    ) -> None:
        # Field names only, never values: a new password must not reach the event (ASVS 16.2.5).
        fields = ",".join(sorted(update_dict))
        await self.emit_security_event(
            SecurityEventType.USER_UPDATED, request, user_id=user.id, details={"fields": fields}
        )
        if user.hashed_password != old_hash:
            await self.emit_security_event(SecurityEventType.PASSWORD_CHANGED, request, user_id=user.id)
        if user.email != old_email:
            await self.emit_security_event(SecurityEventType.EMAIL_CHANGED, request, user_id=user.id)

    async def on_security_event(self, event: SecurityEvent) -> None:
        """Called with every security event (ASVS 5.0 16.3.1); new in fastapi-userkit.

        The default logs it at INFO on the ``fastapi_userkit.security`` logger and stores it
        in :attr:`security_event_db` when there is one. A failure to store is logged, not
        raised: losing an audit row must not turn a login into a 500. Override to send events
        elsewhere (call ``super()`` to keep the defaults).
        """
        log_security_event(event)
        if self.security_event_db is None:
            return
        try:
            await self.security_event_db.create(event)
        except Exception:  # any storage error: the request itself succeeded
            _logger.exception("could not store security event %s", event.type.value)

    # -- hooks -------------------------------------------------------------------------------

    async def on_after_register(self, user: UP, request: Request | None = None) -> None:
        """Called after a user registered."""

    async def on_registration_conflict(self, user: UP, request: Request | None = None) -> None:
        """Called, after the response, when someone registers an address ``user`` already has.

        Only with the register router's ``hide_existing_users`` on (new in fastapi-userkit):
        the client gets the same answer as a new registration, so e-mail the owner here
        ("someone tried to sign up with your address; reset your password if you forgot it").
        """

    async def on_after_update(self, user: UP, update_dict: dict[str, Any], request: Request | None = None) -> None:
        """Called after a user was updated; a new password shows as :data:`REDACTED`.

        With a :attr:`mailer`, a password change e-mails the "password changed" notice.
        """
        if self.mailer is not None and "password" in update_dict:
            await self.mailer.send_password_changed(user)

    async def on_after_request_verify(self, user: UP, token: str, request: Request | None = None) -> None:
        """Called with a fresh verification token; e-mails the link when :attr:`mailer` is set."""
        if self.mailer is not None:
            await self.mailer.send_verification(user, token)

    async def on_after_verify(self, user: UP, request: Request | None = None) -> None:
        """Called after a user verified their e-mail address."""

    async def on_after_forgot_password(self, user: UP, token: str, request: Request | None = None) -> None:
        """Called with a fresh reset token; e-mails the link when :attr:`mailer` is set."""
        if self.mailer is not None:
            await self.mailer.send_password_reset(user, token)

    async def on_after_reset_password(self, user: UP, request: Request | None = None) -> None:
        """Called after a user reset their password; e-mails a notice when :attr:`mailer` is set."""
        if self.mailer is not None:
            await self.mailer.send_password_changed(user)

    async def on_after_login(self, user: UP, request: Request | None = None, response: Response | None = None) -> None:
        """Called after a successful login, with the response about to be sent.

        With a :attr:`mailer` whose ``notify_new_login`` is on, e-mails a "new login" notice.
        """
        if self.mailer is not None:
            await self.mailer.send_new_login(user, request)

    async def on_after_logout_everywhere(self, user: UP, request: Request | None = None) -> None:
        """Called after every session of a user was ended."""

    async def on_before_delete(self, user: UP, request: Request | None = None) -> None:
        """Called before a user is deleted."""

    async def on_after_delete(self, user: UP, request: Request | None = None) -> None:
        """Called after a user was deleted."""
