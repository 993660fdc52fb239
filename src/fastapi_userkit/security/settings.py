"""The one place where every protection is tuned or turned off.

:class:`SecuritySettings` is given once, to ``FastAPIUsers(..., security=...)``. Every group is
on by default with values chosen so that an application written for FastAPI Users keeps working
unchanged (login throttling counts failures only; CSRF checks pass same-origin browsers and
non-browser clients). Setting a group to ``None`` turns that protection off::

    security = SecuritySettings(
        rate_limit=RateLimitSettings(login_ip=Limit(50, 60)),  # tune
        csrf=None,  # turn off
    )

Every value is validated at construction, so a wrong setting fails at start-up and never at a
request. Each group is plain data declared beside the protection it tunes
(:mod:`~fastapi_userkit.security.ratelimit.settings`, :mod:`~fastapi_userkit.security.csrf`) and
re-exported here; those modules never import this one, so the dependency runs one way, from the
grouping down to the protections (no import cycle, issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.security.csrf import CSRFProtection, CSRFSettings
from fastapi_userkit.security.ratelimit.client_ip import client_ip
from fastapi_userkit.security.ratelimit.limiter import FlowGuard, RateLimiter, RateLimitFlow
from fastapi_userkit.security.ratelimit.settings import FlowLimits, Limit, LoginThrottle, RateLimitSettings

__all__ = ["CSRFSettings", "FlowLimits", "Limit", "LoginThrottle", "RateLimitSettings", "SecuritySettings"]


@dataclass(frozen=True)
class SecuritySettings:
    """Every protection's settings; each group set to ``None`` is turned off.

    Raises:
        ConfigurationError: A negative ``trusted_proxy_count`` (and whatever the groups raise).
    """

    rate_limit: RateLimitSettings | None = field(default_factory=RateLimitSettings)
    """Rate limiting and lockout of the authentication flows; ``None`` turns it off."""

    csrf: CSRFSettings | None = field(default_factory=CSRFSettings)
    """CSRF protection of cookie-authenticated requests; ``None`` turns it off."""

    trusted_proxy_count: int = 0
    """How many reverse proxies in front of the app append to ``X-Forwarded-For``. With ``0``
    (default) the header is ignored, since any client can send it; with ``n`` the client is the
    ``n``-th address from the right."""

    def __post_init__(self) -> None:
        if self.trusted_proxy_count < 0:
            raise ConfigurationError("trusted_proxy_count cannot be negative.")

    def client_ip(self, connection: HTTPConnection) -> str:
        """The client's IP address, trusting ``X-Forwarded-For`` only as far as configured."""
        return client_ip(connection, self.trusted_proxy_count)

    def flow_guard(self, flow: RateLimitFlow) -> FlowGuard:
        """The rate-limit guard of ``flow`` (a no-op one when rate limiting is off)."""
        if self.rate_limit is None:
            return FlowGuard(None, flow)
        return FlowGuard(RateLimiter(self.rate_limit, trusted_proxy_count=self.trusted_proxy_count), flow)

    def csrf_protection(self) -> CSRFProtection | None:
        """The CSRF checker, or ``None`` when CSRF protection is off."""
        return None if self.csrf is None else CSRFProtection(self.csrf)
