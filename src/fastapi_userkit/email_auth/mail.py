"""The e-mails of sign-in by e-mail and of the e-mail change, sent through the app's account mailer.

They reuse the :class:`~fastapi_userkit.mail.AccountMailer` the application already configured:
its delivery backend, sender, product name and templates (so a template folder that overrides
the account e-mails overrides these too: ``email_sign_in/``, ``email_change_confirm/``,
``email_change_notice/``, each with ``subject.txt``, ``body.txt`` and ``body.html``).

Unlike the account e-mails, these may go to an address that has no account yet (a sign-up, the
new address of a change), so they are addressed to an address, not to a user. The code is never
put in the subject: mail servers log subjects (ASVS 5.0 16.2.5, T36).
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Literal, cast

from fastapi_userkit.mail.account import AccountMailer
from fastapi_userkit.mail.base import MailDeliveryError
from fastapi_userkit.mail.templates import MailKind

__all__ = ["EmailAuthKind", "EmailAuthMailer"]

_LOGGER = logging.getLogger("fastapi_userkit.mail")

EmailAuthKind = Literal["email_sign_in", "email_change_confirm", "email_change_notice"]
"""The e-mails of this package; templates beside the account e-mails of :mod:`fastapi_userkit.mail`."""


class EmailAuthMailer:
    """Renders and sends the sign-in, change-confirmation and old-address e-mails.

    Args:
        account_mailer: The application's account mailer (backend, sender, name, templates).

    Delivery failures are logged (the kind of e-mail and the reason, never the link) and
    swallowed unless the account mailer's ``raise_errors`` is on: an error only for known
    addresses would tell which addresses have accounts (ASVS 5.0 6.3.8).
    """

    def __init__(self, account_mailer: AccountMailer) -> None:
        self.account_mailer = account_mailer

    def build(self, kind: EmailAuthKind, to: str, context: dict[str, Any], *, when: datetime) -> EmailMessage:
        """Render ``kind`` for the address ``to`` into a multipart (text + HTML) message.

        Raises:
            jinja2.TemplateError: A template is missing, malformed or uses an undefined variable.
        """
        account = self.account_mailer
        variables = {"app_name": account.app_name, "email": to, "when": when, **context}
        # MailTemplates.render takes the account e-mails' kinds; these three live beside them in
        # the same template folder and are rendered the same way.
        rendered = account.templates.render(cast(MailKind, kind), variables)
        message = EmailMessage()
        message["Subject"] = rendered.subject
        message["From"] = account.sender
        message["To"] = to
        message["Message-ID"] = make_msgid(domain=account.sender.domain)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    async def send(self, kind: EmailAuthKind, to: str, context: dict[str, Any], *, when: datetime) -> bool:
        """Build and deliver ``kind`` to ``to``; return whether it was handed over.

        Raises:
            MailDeliveryError: Delivery failed and the account mailer's ``raise_errors`` is on.
        """
        message = self.build(kind, to, context, when=when)
        try:
            await self.account_mailer.mailer.send(message)
        except MailDeliveryError:
            if self.account_mailer.raise_errors:
                raise
            # The kind and the reason only: the message holds a live link (ASVS 5.0 16.2.5).
            _LOGGER.exception("Could not send the %s e-mail", kind)
            return False
        return True
