"""Delivery through an SMTP server, with implicit TLS or STARTTLS, without blocking the event loop."""

from __future__ import annotations

import ipaddress
import ssl
from email.message import EmailMessage
from typing import Literal

from pydantic import SecretStr

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mail.base import MailDeliveryError

__all__ = ["SMTPMailer", "SMTPSecurity"]

SMTPSecurity = Literal["starttls", "tls", "none"]
"""How the connection is protected: STARTTLS (RFC 3207), implicit TLS (RFC 8314), or nothing."""

_DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


class SMTPMailer:
    """Sends messages through an SMTP server with :mod:`aiosmtplib` (the ``mail`` extra).

    aiosmtplib speaks SMTP on the event loop itself, so sending never blocks other requests.
    One connection per message keeps the mailer free of shared state between workers and
    event loops; account e-mails are rare enough for that to cost nothing.

    Example::

        mailer = SMTPMailer("smtp.example.com", username="app", password=SMTP_PASSWORD)

    Args:
        hostname: The server's host name or address.
        port: The server's port; 587 for ``starttls``, 465 for ``tls``, 25 for ``none`` by default.
        username: Log in with this user name (needs ``password``).
        password: The password for ``username``.
        security: ``"starttls"`` (default; upgrade required, RFC 3207), ``"tls"`` (implicit
            TLS, RFC 8314) or ``"none"`` (plain text; for a relay on the same machine).
        timeout: Seconds to wait for each server response.
        tls_context: The SSL context for the TLS handshake; the system's trust store and host
            name checking by default.

    Raises:
        ConfigurationError: ``aiosmtplib`` is not installed; ``username`` and ``password`` are
            not given together; credentials would cross the network in clear text
            (``security="none"`` to a host other than loopback, ASVS 5.0 12.1.1); a bad port
            or timeout.
    """

    def __init__(
        self,
        hostname: str,
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | SecretStr | None = None,
        security: SMTPSecurity = "starttls",
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        try:
            import aiosmtplib  # noqa: F401 - checked here so a missing extra fails at construction
        except ImportError as exc:
            raise ConfigurationError("SMTPMailer needs aiosmtplib: pip install 'fastapi-userkit[mail]'") from exc
        if security not in _DEFAULT_PORTS:
            raise ConfigurationError(f"SMTPMailer security must be one of {sorted(_DEFAULT_PORTS)}, not {security!r}")
        if (username is None) != (password is None):
            raise ConfigurationError("SMTPMailer needs both username and password, or neither")
        if username is not None and security == "none" and not _is_loopback(hostname):
            raise ConfigurationError(
                "SMTPMailer refuses to send credentials in clear text: use security='starttls' or 'tls'"
            )
        resolved_port = _DEFAULT_PORTS[security] if port is None else port
        if not 0 < resolved_port < 65536:
            raise ConfigurationError(f"SMTPMailer port must be between 1 and 65535, not {resolved_port}")
        if timeout <= 0:
            raise ConfigurationError("SMTPMailer timeout must be positive")
        self.hostname = hostname
        self.port = resolved_port
        self.username = username
        self._password = password if isinstance(password, SecretStr) or password is None else SecretStr(password)
        self.security: SMTPSecurity = security
        self.timeout = timeout
        self.tls_context = tls_context

    async def send(self, message: EmailMessage) -> None:
        """Connect, optionally secure and log in, and hand ``message`` to the server.

        Raises:
            MailDeliveryError: The server is unreachable, refused the login or a recipient,
                the TLS handshake failed, or it timed out.
        """
        import aiosmtplib

        try:
            await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=None if self._password is None else self._password.get_secret_value(),
                use_tls=self.security == "tls",
                # False, not None: with "none" aiosmtplib would otherwise upgrade opportunistically
                # and fail on a server whose certificate the context does not trust.
                start_tls=self.security == "starttls",
                timeout=self.timeout,
                tls_context=self.tls_context,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            # The message names the server and the failure, never the credentials.
            raise MailDeliveryError(f"SMTP delivery via {self.hostname}:{self.port} failed: {exc}") from exc
