"""SMTPMailer against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mail import MailDeliveryError, SMTPMailer
from tests.mail.conftest import SMTP_PASSWORD, SMTP_USER, StartServer, _free_port


def _message(to: str = "king.arthur@camelot.bt") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "no-reply@example.com"
    message["To"] = to
    message["Subject"] = "Hello"
    message.set_content("Body text")
    return message


async def test_plain_smtp_delivers_the_message(smtp_server: StartServer) -> None:
    """Without TLS the message reaches the server with its envelope and headers."""
    server = smtp_server("none")
    mailer = SMTPMailer("127.0.0.1", server.port, security="none")

    await mailer.send(_message())

    assert len(server.received) == 1
    received = server.received[0]
    assert received.sender == "no-reply@example.com"
    assert received.recipients == ["king.arthur@camelot.bt"]
    assert received.message["Subject"] == "Hello"
    assert received.message.get_content().strip() == "Body text"


async def test_starttls_with_login_delivers_the_message(smtp_server: StartServer) -> None:
    """STARTTLS upgrades the connection, the login succeeds and the message arrives."""
    server = smtp_server("starttls", auth=True)
    mailer = SMTPMailer(
        "127.0.0.1",
        server.port,
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        security="starttls",
        tls_context=server.client_context,
    )

    await mailer.send(_message())

    assert server.logins == [SMTP_USER]
    assert [r.recipients for r in server.received] == [["king.arthur@camelot.bt"]]


async def test_implicit_tls_with_login_delivers_the_message(smtp_server: StartServer) -> None:
    """Implicit TLS (RFC 8314) with a login delivers the message."""
    server = smtp_server("tls", auth=True)
    mailer = SMTPMailer(
        "127.0.0.1",
        server.port,
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        security="tls",
        tls_context=server.client_context,
    )

    await mailer.send(_message())

    assert server.logins == [SMTP_USER]
    assert len(server.received) == 1


async def test_wrong_password_is_a_delivery_error(smtp_server: StartServer) -> None:
    """A refused login raises MailDeliveryError, and the error text holds no password."""
    server = smtp_server("starttls", auth=True)
    mailer = SMTPMailer(
        "127.0.0.1",
        server.port,
        username=SMTP_USER,
        password="wrong-password-xyz",
        tls_context=server.client_context,
        timeout=3,
    )

    with pytest.raises(MailDeliveryError) as caught:
        await mailer.send(_message())

    assert "authentication" in str(caught.value).lower()
    assert "wrong-password-xyz" not in str(caught.value)
    assert server.received == []


async def test_untrusted_certificate_is_a_delivery_error(smtp_server: StartServer) -> None:
    """STARTTLS to a server whose certificate the system does not trust fails, never downgrades."""
    server = smtp_server("starttls")
    mailer = SMTPMailer("127.0.0.1", server.port, security="starttls")

    with pytest.raises(MailDeliveryError):
        await mailer.send(_message())

    assert server.received == []


async def test_unreachable_server_is_a_delivery_error() -> None:
    """Nothing listening on the port raises MailDeliveryError."""
    mailer = SMTPMailer("127.0.0.1", _free_port(), security="none", timeout=5)

    with pytest.raises(MailDeliveryError, match=r"127\.0\.0\.1"):
        await mailer.send(_message())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"username": "u"}, "both username and password"),
        ({"password": "p"}, "both username and password"),
        ({"username": "u", "password": "p", "security": "none"}, "clear text"),
        ({"security": "ssl"}, "security must be one of"),
        ({"port": 0}, "port"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_misconfiguration_fails_at_construction(kwargs: dict[str, object], match: str) -> None:
    """Incomplete credentials, clear-text credentials to a remote host, bad port or timeout are refused."""
    with pytest.raises(ConfigurationError, match=match):
        SMTPMailer("smtp.example.com", **kwargs)  # type: ignore[arg-type]  # deliberately wrong values


def test_default_ports_follow_the_security_mode() -> None:
    """587 for STARTTLS, 465 for implicit TLS, 25 without TLS; credentials in clear only to loopback."""
    assert SMTPMailer("smtp.example.com").port == 587
    assert SMTPMailer("smtp.example.com", security="tls").port == 465
    assert SMTPMailer("localhost", security="none", username="u", password="p").port == 25
