"""E-mail delivery: the :class:`Mailer` protocol, its backends, templates and the account e-mails.

::

    AccountMailer        renders an account e-mail from MailTemplates and hands it to a Mailer
    ├── MailTemplates    Jinja2 templates (text + HTML), overridable through a search path
    └── Mailer           protocol: ``async send(message)``
        ├── ConsoleMailer    writes messages to standard output (development, the demo)
        ├── FileMailer       writes one ``.eml`` file per message (development outbox)
        ├── OutboxMailer     keeps messages in a list (tests)
        └── SMTPMailer       SMTP with STARTTLS or implicit TLS, on the event loop (aiosmtplib)

Jinja2 and aiosmtplib come with the ``mail`` extra: ``pip install 'fastapi-userkit[mail]'``.
"""

from fastapi_userkit.mail.account import AccountMailer
from fastapi_userkit.mail.backends import ConsoleMailer, FileMailer, OutboxMailer
from fastapi_userkit.mail.base import MailDeliveryError, Mailer
from fastapi_userkit.mail.smtp import SMTPMailer, SMTPSecurity
from fastapi_userkit.mail.templates import MAIL_KINDS, MailKind, MailTemplates, RenderedMail

__all__ = [
    "MAIL_KINDS",
    "AccountMailer",
    "ConsoleMailer",
    "FileMailer",
    "MailDeliveryError",
    "MailKind",
    "MailTemplates",
    "Mailer",
    "OutboxMailer",
    "RenderedMail",
    "SMTPMailer",
    "SMTPSecurity",
]
