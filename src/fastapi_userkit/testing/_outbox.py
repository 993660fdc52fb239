"""The e-mails an :class:`~fastapi_userkit.mail.AccountMailer` sent during a test, with their links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

from fastapi_userkit.mail.backends import OutboxMailer

__all__ = ["CapturedEmail", "Outbox"]

_LINK = re.compile(r"https?://[^\s<>\"']+")


def _token_pattern(url_template: str | None) -> re.Pattern[str] | None:
    """A pattern reading the token out of links built from ``url_template`` (``...{token}...``)."""
    if url_template is None:
        return None
    before, _, after = url_template.partition("{token}")
    return re.compile(re.escape(before) + r"(?P<token>[^\s<>\"'&]+)" + re.escape(after))


@dataclass(frozen=True)
class CapturedEmail:
    """One sent message, read for tests.

    Attributes:
        to: The recipient's address, as in the ``To`` header.
        subject: The subject.
        text: The plain-text body.
        links: Every http(s) URL of the plain-text body, in order.
        verify_token: The token of the verification link, if the message has one.
        reset_token: The token of the password-reset link, if the message has one.
        message: The message itself.
    """

    to: str
    subject: str
    text: str
    links: tuple[str, ...]
    verify_token: str | None
    reset_token: str | None
    message: EmailMessage


class Outbox:
    """Every message sent through :attr:`mailer` since the test began, parsed.

    Args:
        verify_url: The account mailer's verification URL template (to read its tokens).
        reset_url: The account mailer's reset URL template.
    """

    def __init__(self, verify_url: str | None = None, reset_url: str | None = None) -> None:
        self.mailer = OutboxMailer()
        self._verify = _token_pattern(verify_url)
        self._reset = _token_pattern(reset_url)

    def _parse(self, message: EmailMessage) -> CapturedEmail:
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
        links = tuple(_LINK.findall(text))

        def token(pattern: re.Pattern[str] | None) -> str | None:
            found = next((m for link in links if pattern is not None and (m := pattern.fullmatch(link))), None)
            return found["token"] if found is not None else None

        return CapturedEmail(
            to=str(message["To"]),
            subject=str(message["Subject"]),
            text=text,
            links=links,
            verify_token=token(self._verify),
            reset_token=token(self._reset),
            message=message,
        )

    @property
    def messages(self) -> list[CapturedEmail]:
        """The messages sent so far, oldest first."""
        return [self._parse(message) for message in self.mailer.messages]

    def __len__(self) -> int:
        return len(self.mailer.messages)

    def last(self, to: str | None = None) -> CapturedEmail:
        """The latest message (to ``to``, if given).

        Raises:
            AssertionError: No such message was sent (a test failure, with what was sent).
        """
        for message in reversed(self.messages):
            if to is None or to in message.to:
                return message
        sent = [f"{m.to}: {m.subject}" for m in self.messages]
        raise AssertionError(f"No e-mail{f' to {to}' if to else ''} was sent; sent: {sent}")

    def verify_token(self, to: str | None = None) -> str:
        """The token of the latest verification e-mail (to ``to``).

        Raises:
            AssertionError: None was sent.
        """
        for message in reversed(self.messages):
            if message.verify_token is not None and (to is None or to in message.to):
                return message.verify_token
        raise AssertionError(f"No verification e-mail{f' to {to}' if to else ''} was sent")

    def reset_token(self, to: str | None = None) -> str:
        """The token of the latest password-reset e-mail (to ``to``).

        Raises:
            AssertionError: None was sent.
        """
        for message in reversed(self.messages):
            if message.reset_token is not None and (to is None or to in message.to):
                return message.reset_token
        raise AssertionError(f"No password-reset e-mail{f' to {to}' if to else ''} was sent")
