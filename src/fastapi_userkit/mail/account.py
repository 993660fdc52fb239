"""The account e-mails the user manager sends: verification, reset, password changed, new login."""

from __future__ import annotations

import logging
import string
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mail.base import MailDeliveryError, Mailer
from fastapi_userkit.mail.templates import MailKind, MailTemplates

if TYPE_CHECKING:
    from fastapi import Request

    from fastapi_userkit.models import UserProtocol

__all__ = ["AccountMailer"]

_LOGGER = logging.getLogger("fastapi_userkit.mail")


def _check_url_template(name: str, template: str | None) -> None:
    """Fail at construction unless ``template`` is an absolute http(s) URL with one ``{token}``."""
    if template is None:
        return
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise ConfigurationError(f"{name} is not a valid URL template: {exc}") from exc
    if fields != ["token"]:
        raise ConfigurationError(f"{name} must contain '{{token}}' exactly once and no other field")
    parts = urlsplit(template.replace("{token}", "t"))
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL")


def _parse_sender(sender: str | Address) -> Address:
    if isinstance(sender, Address):
        return sender
    message = EmailMessage()
    try:
        message["From"] = sender
        addresses = message["From"].addresses
    except (ValueError, IndexError) as exc:
        raise ConfigurationError(f"sender {sender!r} is not an e-mail address") from exc
    if len(addresses) != 1 or not addresses[0].domain:
        raise ConfigurationError(f"sender {sender!r} must be exactly one e-mail address")
    address: Address = addresses[0]
    return address


class AccountMailer:
    """Builds the account e-mails from templates and hands them to a :class:`Mailer`.

    Set it as the user manager's ``mailer`` and the manager's default hooks send the e-mails
    (a subclass that overrides a hook calls ``super()`` to keep its e-mail)::

        account_mailer = AccountMailer(
            SMTPMailer("smtp.example.com", username="app", password=SMTP_PASSWORD),
            sender="Example <no-reply@example.com>",
            verify_url="https://app.example.com/verify?token={token}",
            reset_url="https://app.example.com/reset-password?token={token}",
            app_name="Example",
        )

        class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
            mailer = account_mailer

    Delivery failures are logged (user id and reason, never the link) and swallowed by
    default: ``POST /forgot-password`` answers 202 whether the address exists or not, and a
    500 only for existing addresses would tell an attacker which ones do (ASVS 5.0 6.3.8).

    Args:
        mailer: The delivery backend.
        sender: The ``From`` address, e.g. ``"Example <no-reply@example.com>"``.
        verify_url: URL of the app's verification page, with ``{token}`` where the token goes;
            ``None`` sends no verification e-mail.
        reset_url: URL of the app's reset page, with ``{token}``; ``None`` sends no reset e-mail.
        app_name: The product name shown in subjects and bodies.
        templates: The templates; the built-in ones by default.
        notify_password_changed: Tell the user when their password changes (ASVS 5.0 6.3.7).
        notify_new_login: Tell the user after each successful login (off by default: without
            device tracking every login is "new").
        verify_lifetime_seconds: Shown in the verification e-mail; keep it equal to the
            manager's ``verification_token_lifetime_seconds``.
        reset_lifetime_seconds: Shown in the reset e-mail; keep it equal to the manager's
            ``reset_password_token_lifetime_seconds``.
        raise_errors: Let :class:`MailDeliveryError` propagate instead of logging it.

    Raises:
        ConfigurationError: A URL template is not an absolute http(s) URL with one ``{token}``,
            or ``sender`` is not one e-mail address.
    """

    def __init__(
        self,
        mailer: Mailer,
        *,
        sender: str | Address,
        verify_url: str | None = None,
        reset_url: str | None = None,
        app_name: str = "Your account",
        templates: MailTemplates | None = None,
        notify_password_changed: bool = True,
        notify_new_login: bool = False,
        verify_lifetime_seconds: int = 3600,
        reset_lifetime_seconds: int = 3600,
        raise_errors: bool = False,
    ) -> None:
        if not isinstance(mailer, Mailer):
            raise ConfigurationError("mailer must have an async send(message) method")
        _check_url_template("verify_url", verify_url)
        _check_url_template("reset_url", reset_url)
        self.mailer = mailer
        self.sender = _parse_sender(sender)
        self.verify_url = verify_url
        self.reset_url = reset_url
        self.app_name = app_name
        self.templates = templates if templates is not None else MailTemplates()
        self.notify_password_changed = notify_password_changed
        self.notify_new_login = notify_new_login
        self.verify_lifetime_seconds = verify_lifetime_seconds
        self.reset_lifetime_seconds = reset_lifetime_seconds
        self.raise_errors = raise_errors

    async def send_verification(self, user: UserProtocol[Any], token: str) -> bool:
        """E-mail the verification link; return whether a message was delivered."""
        if self.verify_url is None:
            return False
        link = self.verify_url.format(token=quote(token, safe=""))
        context = {"link": link, "lifetime_minutes": self.verify_lifetime_seconds // 60}
        return await self._send("verify", user, context)

    async def send_password_reset(self, user: UserProtocol[Any], token: str) -> bool:
        """E-mail the password-reset link; return whether a message was delivered."""
        if self.reset_url is None:
            return False
        link = self.reset_url.format(token=quote(token, safe=""))
        context = {"link": link, "lifetime_minutes": self.reset_lifetime_seconds // 60}
        return await self._send("reset_password", user, context)

    async def send_password_changed(self, user: UserProtocol[Any]) -> bool:
        """E-mail the "your password was changed" notice, if enabled; return whether delivered."""
        if not self.notify_password_changed:
            return False
        return await self._send("password_changed", user, {})

    async def send_new_login(self, user: UserProtocol[Any], request: Request | None = None) -> bool:
        """E-mail the "new login" notice, if enabled; return whether delivered.

        The notice names the client address and ``User-Agent`` of ``request`` when known.
        """
        if not self.notify_new_login:
            return False
        ip_address = request.client.host if request is not None and request.client is not None else None
        user_agent = request.headers.get("user-agent") if request is not None else None
        return await self._send("new_login", user, {"ip_address": ip_address, "user_agent": user_agent})

    async def send_mfa_changed(self, user: UserProtocol[Any], change: str) -> bool:
        """E-mail the "two-factor sign-in changed" notice (issue 18, T43); return whether delivered.

        Args:
            user: The account whose factors changed.
            change: What happened, as a clause ("two-factor sign-in was turned on").
        """
        return await self._send("mfa_changed", user, {"change": change})

    async def send_passkey_changed(self, user: UserProtocol[Any], change: str) -> bool:
        """E-mail the "passkeys changed" notice (issue 19, item 3); return whether delivered.

        Args:
            user: The account whose passkeys changed.
            change: What happened, as a clause ("a passkey named 'Laptop' was added").
        """
        return await self._send("passkey_changed", user, {"change": change})

    def build(self, kind: MailKind, user: UserProtocol[Any], context: dict[str, Any]) -> EmailMessage:
        """Render ``kind`` for ``user`` into a multipart (text + HTML) message."""
        variables = {
            "app_name": self.app_name,
            "email": user.email,
            "user": user,
            "when": datetime.now(UTC),
            **context,
        }
        rendered = self.templates.render(kind, variables)
        message = EmailMessage()
        message["Subject"] = rendered.subject
        message["From"] = self.sender
        message["To"] = user.email
        message["Message-ID"] = make_msgid(domain=self.sender.domain)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    async def _send(self, kind: MailKind, user: UserProtocol[Any], context: dict[str, Any]) -> bool:
        message = self.build(kind, user, context)
        try:
            await self.mailer.send(message)
        except MailDeliveryError:
            if self.raise_errors:
                raise
            # The user id and the reason only: the message holds a live token (ASVS 5.0 16.2.5).
            _LOGGER.exception("Could not send the %s e-mail to user %s", kind, user.id)
            return False
        return True
