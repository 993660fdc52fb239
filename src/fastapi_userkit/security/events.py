"""Security events: a typed record of every authentication event (OWASP ASVS 5.0 16.2, 16.3).

The manager and the routers build a :class:`SecurityEvent` at each point that matters (login
success and failure, logout, lockout, registration, password change and reset, verification,
update, deletion, token revocation) and hand it to ``BaseUserManager.on_security_event``. The
default hook logs it at INFO on the ``fastapi_userkit.security`` logger and, when the manager was
given a :class:`SecurityEventDatabase`, stores it (see :mod:`fastapi_userkit.db.security_events`).

An event says who (user id), what (type and outcome), when (UTC) and where (client IP and user
agent), as ASVS 16.2.1 asks. It never carries a password or a token (ASVS 16.2.5): there is no
field for one, and :class:`SecurityEvent` refuses ``details`` keys that name one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from fastapi import Request

__all__ = [
    "SECURITY_LOGGER_NAME",
    "SecurityEvent",
    "SecurityEventDatabase",
    "SecurityEventOutcome",
    "SecurityEventType",
    "log_security_event",
]

SECURITY_LOGGER_NAME = "fastapi_userkit.security"
"""The logger security events are written to (INFO)."""

_logger = logging.getLogger(SECURITY_LOGGER_NAME)
_MAX_USER_AGENT = 512
_MAX_IP = 64
# Keys a detail may never have: what they would hold is a credential (ASVS 16.2.5).
_SECRET_KEY_PARTS = ("password", "token", "secret", "credential")


class SecurityEventType(StrEnum):
    """What happened."""

    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    LOCKOUT = "lockout"
    REGISTERED = "registered"
    REGISTRATION_CONFLICT = "registration_conflict"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET_COMPLETED = "password_reset_completed"
    VERIFICATION_REQUESTED = "verification_requested"
    VERIFICATION_COMPLETED = "verification_completed"
    EMAIL_CHANGED = "email_changed"
    USER_UPDATED = "user_updated"
    USER_DELETED = "user_deleted"
    TOKEN_REVOKED = "token_revoked"
    SESSIONS_REVOKED = "sessions_revoked"
    REFRESH_TOKEN_REUSE = "refresh_token_reuse"
    # Two-factor login (issue 18; T41, T43, T47)
    MFA_CHALLENGE_ISSUED = "mfa_challenge_issued"
    MFA_CODE_REPLAYED = "mfa_code_replayed"
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    MFA_RECOVERY_CODES_REGENERATED = "mfa_recovery_codes_regenerated"
    # Passkeys (issue 19; T44, T47): added, renamed, deleted; a counter that went backwards.
    PASSKEY_REGISTERED = "passkey_registered"
    PASSKEY_RENAMED = "passkey_renamed"
    PASSKEY_DELETED = "passkey_deleted"
    PASSKEY_COUNTER_REGRESSION = "passkey_counter_regression"


class SecurityEventOutcome(StrEnum):
    """Whether the attempt succeeded."""

    SUCCESS = "success"
    FAILURE = "failure"


def _clean(value: str | None, limit: int) -> str | None:
    # Client-controlled text goes to logs: drop control characters (no forged log lines,
    # ASVS 16.4.1) and cap the length.
    if value is None:
        return None
    return "".join(char if char.isprintable() else "?" for char in value[:limit])


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """One security event.

    Raises:
        ValueError: A ``details`` key names a secret (password, token...), or ``created_at``
            is not timezone-aware.
    """

    type: SecurityEventType
    """What happened."""

    outcome: SecurityEventOutcome = SecurityEventOutcome.SUCCESS
    """Whether it succeeded."""

    user_id: Any = None
    """The user's id, when known (``None`` for a failed login with an unknown e-mail)."""

    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When it happened, timezone-aware UTC (ASVS 16.2.1)."""

    ip_address: str | None = None
    """The client's address as the ASGI server reports it."""

    user_agent: str | None = None
    """The client's ``User-Agent``, without control characters, at most 512 characters."""

    details: Mapping[str, str] = field(default_factory=dict)
    """Extra non-secret context: the backend name, the fields changed, a failure reason."""

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError("SecurityEvent.created_at must be timezone-aware.")
        for key in self.details:
            if any(part in key.lower() for part in _SECRET_KEY_PARTS):
                raise ValueError(f"SecurityEvent.details may not hold {key!r}: events never carry secrets.")

    @classmethod
    def from_request(
        cls,
        type: SecurityEventType,
        request: Request | None,
        *,
        user_id: Any = None,
        outcome: SecurityEventOutcome = SecurityEventOutcome.SUCCESS,
        details: Mapping[str, str] | None = None,
    ) -> SecurityEvent:
        """Build an event, taking the client's IP and user agent from ``request`` (if any)."""
        ip_address = user_agent = None
        if request is not None:
            ip_address = _clean(request.client.host if request.client else None, _MAX_IP)
            user_agent = _clean(request.headers.get("user-agent"), _MAX_USER_AGENT)
        return cls(
            type=type,
            outcome=outcome,
            user_id=user_id,
            ip_address=ip_address,
            user_agent=user_agent,
            details=dict(details or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        """The event as JSON-ready values (ISO 8601 time, id as a string)."""
        return {
            "type": self.type.value,
            "outcome": self.outcome.value,
            "user_id": None if self.user_id is None else str(self.user_id),
            "created_at": self.created_at.isoformat(),
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "details": dict(self.details),
        }


def log_security_event(event: SecurityEvent) -> None:
    """Write ``event`` at INFO to the ``fastapi_userkit.security`` logger.

    The message is one line; the whole event is attached as ``extra={"security_event": ...}``
    for structured (JSON) log handlers.
    """
    _logger.info(
        "security event %s outcome=%s user_id=%s ip=%s",
        event.type.value,
        event.outcome.value,
        event.user_id,
        event.ip_address,
        extra={"security_event": event.as_dict()},
    )


class SecurityEventDatabase(Protocol):
    """Where the manager stores events; :class:`~fastapi_userkit.db.SQLAlchemySecurityEventDatabase` is one."""

    async def create(self, event: SecurityEvent) -> None:
        """Store one event."""
        ...  # pragma: no cover - protocol

    async def list_for_user(self, user_id: Any, limit: int) -> list[SecurityEvent]:
        """Return the user's most recent events, newest first."""
        ...  # pragma: no cover - protocol
