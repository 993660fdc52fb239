"""The :class:`Mailer` protocol every delivery backend implements, and its error."""

from __future__ import annotations

from email.message import EmailMessage
from typing import ClassVar, Protocol, runtime_checkable

from fastapi_userkit.exceptions import FastAPIUsersException

__all__ = ["MailDeliveryError", "Mailer"]


@runtime_checkable
class Mailer(Protocol):
    """Delivers one e-mail message.

    A backend is any object with this method: :class:`~fastapi_userkit.mail.ConsoleMailer`,
    :class:`~fastapi_userkit.mail.FileMailer`, :class:`~fastapi_userkit.mail.OutboxMailer`,
    :class:`~fastapi_userkit.mail.SMTPMailer`, or an adapter to an e-mail API of the
    application's choosing.
    """

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` (its ``From``, ``To`` and ``Subject`` headers are set).

        Raises:
            MailDeliveryError: The message could not be handed over.
        """
        ...  # pragma: no cover - protocol


class MailDeliveryError(FastAPIUsersException):
    """A backend could not deliver a message (server down, refused, timed out)."""

    default_message = "The e-mail message could not be delivered."
    code: ClassVar[str] = "MAIL_DELIVERY_FAILED"
