"""Tokens in the ``Authorization: Bearer`` header."""

from __future__ import annotations

from fastapi import Response, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel

from fastapi_userkit.authentication.transport.base import Transport, TransportLogoutNotSupportedError
from fastapi_userkit.openapi import OpenAPIResponseType

__all__ = ["BearerResponse", "BearerTransport"]


class BearerResponse(BaseModel):
    """The login response body."""

    access_token: str
    token_type: str


class BearerTransport(Transport):
    """Sends the token in the login response body; reads it from the ``Authorization`` header.

    Args:
        tokenUrl: The login route's URL, for the OpenAPI "Authorize" button.
    """

    scheme: OAuth2PasswordBearer

    def __init__(self, tokenUrl: str) -> None:  # noqa: N803 - compat parameter name
        self.scheme = OAuth2PasswordBearer(tokenUrl, auto_error=False)

    async def get_login_response(self, token: str) -> Response:
        """Return ``200 {"access_token": token, "token_type": "bearer"}``."""
        return JSONResponse(BearerResponse(access_token=token, token_type="bearer").model_dump())  # noqa: S106 - a token type, not a password

    async def get_logout_response(self) -> Response:
        """Bearer clients forget the token themselves.

        Raises:
            TransportLogoutNotSupportedError: Always; the backend answers 204.
        """
        raise TransportLogoutNotSupportedError()

    @staticmethod
    def get_openapi_login_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of the login response."""
        return {
            status.HTTP_200_OK: {
                "model": BearerResponse,
                "content": {
                    "application/json": {
                        "example": {
                            "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI5MDUyIn0.5qJfAkgLfn0",
                            "token_type": "bearer",
                        }
                    }
                },
            },
        }

    @staticmethod
    def get_openapi_logout_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of the logout response (204, no body)."""
        return {status.HTTP_204_NO_CONTENT: {"description": "Logged out."}}
