"""Transports: how a token travels (``Authorization`` header or cookie)."""

from fastapi_userkit.authentication.transport.base import Transport, TransportLogoutNotSupportedError
from fastapi_userkit.authentication.transport.bearer import BearerResponse, BearerTransport
from fastapi_userkit.authentication.transport.cookie import CookieTransport

__all__ = [
    "BearerResponse",
    "BearerTransport",
    "CookieTransport",
    "Transport",
    "TransportLogoutNotSupportedError",
]
