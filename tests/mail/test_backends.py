"""The development backends: console, .eml files, in-memory outbox."""

from __future__ import annotations

import io
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mail import ConsoleMailer, FileMailer, MailDeliveryError, Mailer, OutboxMailer


def _message(subject: str = "Hello") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "no-reply@example.com"
    message["To"] = "lancelot@camelot.bt"
    message["Subject"] = subject
    message.set_content("Body text")
    return message


def test_every_backend_satisfies_the_protocol(tmp_path: Path) -> None:
    """The three development backends are Mailers."""
    backends = [ConsoleMailer(), FileMailer(tmp_path), OutboxMailer()]

    assert all(isinstance(backend, Mailer) for backend in backends)


async def test_console_mailer_writes_headers_and_body_to_its_stream() -> None:
    """ConsoleMailer writes the whole message to the given stream."""
    stream = io.StringIO()

    await ConsoleMailer(stream).send(_message())

    output = stream.getvalue()
    assert "Subject: Hello" in output
    assert "To: lancelot@camelot.bt" in output
    assert "Body text" in output


async def test_console_mailer_defaults_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a stream, ConsoleMailer prints to standard output."""
    await ConsoleMailer().send(_message("On stdout"))

    assert "Subject: On stdout" in capsys.readouterr().out


async def test_file_mailer_writes_one_eml_file_per_message_in_order(tmp_path: Path) -> None:
    """Each message becomes a parseable .eml file; paths() lists them oldest first."""
    mailer = FileMailer(tmp_path / "outbox")

    await mailer.send(_message("first"))
    await mailer.send(_message("second"))

    subjects = [message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"] for path in mailer.paths()]
    assert subjects == ["first", "second"]


def test_file_mailer_refuses_a_file_as_its_directory(tmp_path: Path) -> None:
    """A path that is a regular file is a configuration error at construction."""
    target = tmp_path / "not-a-dir"
    target.write_text("x")

    with pytest.raises(ConfigurationError, match="FileMailer cannot use"):
        FileMailer(target)


async def test_file_mailer_reports_an_unwritable_directory(tmp_path: Path) -> None:
    """A directory removed after construction gives MailDeliveryError, not an OSError."""
    folder = tmp_path / "gone"
    mailer = FileMailer(folder)
    folder.rmdir()

    with pytest.raises(MailDeliveryError, match="Could not write"):
        await mailer.send(_message())


async def test_outbox_mailer_keeps_messages_in_order() -> None:
    """OutboxMailer appends each message to its list."""
    outbox = OutboxMailer()

    await outbox.send(_message("a"))
    await outbox.send(_message("b"))

    assert [message["Subject"] for message in outbox.messages] == ["a", "b"]
