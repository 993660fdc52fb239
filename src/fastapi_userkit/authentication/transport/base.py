"""How a token travels between client and server."""

from __future__ import annotations

from typing import Protocol

from fastapi import Response
from fastapi.security.base import SecurityBase

from fastapi_userkit.openapi import OpenAPIResponseType

__all__ = ["Transport", "TransportLogoutNotSupportedError"]


class TransportLogoutNotSupportedError(Exception):
    """The transport has nothing to do at logout (the client simply forgets the token)."""


class Transport(Protocol):
    """Reads the token from a request (``scheme``) and writes login and logout responses."""

    scheme: SecurityBase

    async def get_login_response(self, token: str) -> Response:
        """Build the response that hands ``token`` to the client."""
        ...  # pragma: no cover - protocol

    async def get_logout_response(self) -> Response:
        """Build the response that makes the client forget its token.

        Raises:
            TransportLogoutNotSupportedError: Nothing to send; the backend answers 204.
        """
        ...  # pragma: no cover - protocol

    @staticmethod
    def get_openapi_login_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of a successful login."""
        ...  # pragma: no cover - protocol

    @staticmethod
    def get_openapi_logout_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of a successful logout."""
        ...  # pragma: no cover - protocol
