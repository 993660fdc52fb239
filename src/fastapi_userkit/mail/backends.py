"""Development backends: print messages, write them to ``.eml`` files, or keep them in a list."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import TextIO

import anyio.to_thread

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mail.base import MailDeliveryError

__all__ = ["ConsoleMailer", "FileMailer", "OutboxMailer"]


class ConsoleMailer:
    """Writes each message, headers and bodies, to a text stream (standard output by default).

    For development only: the messages carry live reset and verification links, so this
    backend writes to a stream the developer watches, never to the application's logs
    (ASVS 5.0 16.2.5: no tokens in logs).

    Args:
        stream: Where to write; ``None`` means :data:`sys.stdout` at the time of sending.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, message: EmailMessage) -> None:
        """Write ``message`` followed by a separator line."""
        stream = self.stream if self.stream is not None else sys.stdout
        stream.write(message.as_string(policy=policy.default))
        stream.write("\n" + "-" * 72 + "\n")
        stream.flush()


class FileMailer:
    """Writes each message to its own ``.eml`` file in a directory (an outbox for development).

    File names sort by sending time. Writing happens in a worker thread, off the event loop.

    Args:
        directory: The outbox directory; created if missing.

    Raises:
        ConfigurationError: ``directory`` exists and is not a directory, or cannot be created.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"FileMailer cannot use {self.directory}: {exc.strerror}") from exc

    async def send(self, message: EmailMessage) -> None:
        """Write ``message`` to a new ``.eml`` file.

        Raises:
            MailDeliveryError: The file could not be written.
        """
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        data = message.as_bytes(policy=policy.SMTP)
        try:
            await anyio.to_thread.run_sync(path.write_bytes, data)
        except OSError as exc:
            raise MailDeliveryError(f"Could not write {path}: {exc.strerror}") from exc

    def paths(self) -> list[Path]:
        """The ``.eml`` files written so far, oldest first."""
        return sorted(self.directory.glob("*.eml"))


class OutboxMailer:
    """Keeps every message in :attr:`messages`; for tests.

    Attributes:
        messages: The messages sent, oldest first.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        """Append ``message`` to :attr:`messages`."""
        self.messages.append(message)
