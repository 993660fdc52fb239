"""The app-level handler the README shows: a store that is down answers ``503``, never ``500``.

The database and Redis clients belong to the application (its engine, its session dependency,
its Redis client), so mapping their connection failures is the application's exception handler,
installed next to the routers; the library's own routes raise these errors unchanged.
"""

from __future__ import annotations

import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

STORE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,  # the server went away, or refused the connection
    sqlalchemy.exc.InterfaceError,  # a connection closed under a query (asyncpg)
    sqlalchemy.exc.TimeoutError,  # no pooled connection within pool_timeout
    ConnectionError,  # a refused connection the driver did not wrap (ConnectionRefusedError)
    TimeoutError,  # the driver's connect timeout (asyncpg's ``timeout``)
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """``503 STORE_UNAVAILABLE`` with ``Retry-After``: the client may retry the same request."""
    return JSONResponse({"detail": "STORE_UNAVAILABLE"}, status_code=503, headers={"Retry-After": "5"})


def add_store_error_handlers(app: FastAPI) -> None:
    """Answer ``503`` when the database or Redis cannot be reached."""
    for error in STORE_ERRORS:
        app.add_exception_handler(error, store_unavailable)
