"""A real SMTP server (aiosmtpd) on loopback, with a self-signed certificate for TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp-password-for-tests"


@dataclass
class Received:
    """A message the test server accepted, with its envelope."""

    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SMTPServer:
    """A running test server: where it listens and what it received."""

    port: int
    received: list[Received] = field(default_factory=list)
    client_context: ssl.SSLContext | None = None
    logins: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        sender = envelope.mail_from or ""
        self.server.received.append(Received(sender, list(envelope.rcpt_tos), message))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


StartServer = Callable[..., SMTPServer]


@pytest.fixture
def smtp_server(certificate: tuple[Path, Path]) -> Iterator[StartServer]:
    """Start aiosmtpd servers on free loopback ports; stop them at teardown."""
    controllers: list[Controller] = []

    def start(security: Literal["none", "starttls", "tls"] = "none", *, auth: bool = False) -> SMTPServer:
        cert_path, key_path = certificate
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert_path, key_path)
        client_context = ssl.create_default_context(cafile=str(cert_path))
        server = SMTPServer(port=_free_port(), client_context=client_context if security != "none" else None)

        def authenticator(
            _smtp: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                SMTP_USER.encode(),
                SMTP_PASSWORD.encode(),
            )
            if ok:
                server.logins.append(SMTP_USER)
            return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

        kwargs: dict[str, Any] = {}
        if security == "starttls":
            kwargs.update(tls_context=server_context, require_starttls=True)
        if security == "tls":
            kwargs.update(ssl_context=server_context, server_hostname="127.0.0.1")
        if auth:
            # With implicit TLS aiosmtpd cannot see the TLS layer, so it must not insist on
            # STARTTLS before AUTH; it then warns when AUTH is also required, hence not required.
            implicit = security == "tls"
            kwargs.update(authenticator=authenticator, auth_required=not implicit, auth_require_tls=not implicit)
        controller = Controller(_Handler(server), hostname="127.0.0.1", port=server.port, **kwargs)
        controller.start()
        controllers.append(controller)
        return server

    yield start
    for controller in controllers:
        controller.stop()


@contextmanager
def plain_smtp_server() -> Iterator[SMTPServer]:
    """A plain-text SMTP server on a free loopback port, for tests outside this folder."""
    server = SMTPServer(port=_free_port())
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
