"""Tokens in the ``Authorization: Bearer`` header."""

from __future__ import annotations

from fastapi import Response, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from fastapi_userkit.authentication.transport.base import Transport, TransportLogoutNotSupportedError
from fastapi_userkit.openapi import OpenAPIResponseType
from fastapi_userkit.sessions.models import RefreshCookie

__all__ = ["BearerRefreshResponse", "BearerResponse", "BearerTransport"]


class BearerResponse(BaseModel):
    """The login response body."""

    access_token: str
    token_type: str


class BearerRefreshResponse(BaseModel):
    """The login and refresh response body when the backend has refresh on."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int | None
    """Seconds the access token is valid (``None``: the strategy sets no lifetime)."""


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

    async def get_login_response_with_refresh(
        self, token: str, refresh_token: str, *, expires_in: int | None, refresh_cookie: RefreshCookie
    ) -> Response:
        """Return ``200 {"access_token", "refresh_token", "token_type": "bearer", "expires_in"}``."""
        body = BearerRefreshResponse(
            access_token=token,
            refresh_token=refresh_token,
            token_type="bearer",  # noqa: S106 - a token type, not a password
            expires_in=expires_in,
        )
        return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})

    def get_refresh_token(self, connection: HTTPConnection, body_token: str | None, cookie_name: str) -> str | None:
        """The refresh token a client sent: the ``refresh_token`` of the JSON body."""
        return body_token

    def clear_refresh_cookie(self, response: Response, refresh_cookie: RefreshCookie) -> Response:
        """Nothing to clear: a bearer client holds its refresh token itself."""
        return response

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
    def get_openapi_refresh_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of a login or refresh response with refresh on."""
        return {
            status.HTTP_200_OK: {
                "model": BearerRefreshResponse,
                "content": {
                    "application/json": {
                        "example": {
                            "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI5MDUyIn0.5qJfAkgLfn0",
                            "refresh_token": "ukrt_3nNq0c1iKfQx8yY0m2v7l1xWZbq8n9KJ4d2h6s0rT5a",
                            "token_type": "bearer",
                            "expires_in": 900,
                        }
                    }
                },
            },
        }

    @staticmethod
    def get_openapi_logout_responses_success() -> OpenAPIResponseType:
        """OpenAPI description of the logout response (204, no body)."""
        return {status.HTTP_204_NO_CONTENT: {"description": "Logged out."}}
