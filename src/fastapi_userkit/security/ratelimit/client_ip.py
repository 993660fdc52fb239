"""The client's IP address, and the bucket a rate limit counts it in.

``X-Forwarded-For`` is written by whoever sends the request, so it is ignored unless the app
says how many reverse proxies of its own append to it (``trusted_proxy_count``). With ``n``
trusted proxies, the client is the ``n``-th address from the right: the ones further left were
written by the client and may be forged (the allauth lesson; MDN "X-Forwarded-For", security
and privacy concerns).
"""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection

__all__ = ["UNKNOWN_CLIENT", "client_ip", "rate_limit_bucket"]

UNKNOWN_CLIENT = "unknown"
"""The address used when the server does not report one."""

# One IPv6 subscriber usually gets a whole /64: counting single addresses would let one client
# rotate through 2**64 of them.
_IPV6_BUCKET_PREFIX = 64


def _parse(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(connection: HTTPConnection, trusted_proxy_count: int = 0) -> str:
    """Return the client's IP address.

    Args:
        connection: The request.
        trusted_proxy_count: How many of the app's own proxies append to ``X-Forwarded-For``;
            ``0`` ignores the header.

    Returns:
        The address in canonical form, or ``"unknown"`` when the server reports none. A
        malformed or too short ``X-Forwarded-For`` falls back to the peer's address.
    """
    peer = connection.client.host if connection.client is not None else None
    fallback = (_parse(peer) or peer) if peer else UNKNOWN_CLIENT
    if trusted_proxy_count <= 0:
        return fallback
    hops = [hop for header in connection.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    if len(hops) < trusted_proxy_count:
        return fallback
    return _parse(hops[-trusted_proxy_count]) or fallback


def rate_limit_bucket(address: str) -> str:
    """The key a rate limit counts ``address`` under: the address, or its /64 for IPv6."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, _IPV6_BUCKET_PREFIX), strict=False))
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)
