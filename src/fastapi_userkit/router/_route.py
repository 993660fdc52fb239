"""The route class of every fastapi-userkit router: malformed bodies always get a sendable 422.

A JSON body may carry a lone surrogate (``"\\ud800"``): it is valid JSON and decodes to a Python
``str``, but no UTF-8 encoder accepts it. When such a value fails validation, FastAPI's default
handler echoes it in the ``422`` body and crashes while encoding the answer, so the client gets
a 500. This route class replaces every lone surrogate in the error (and the echoed body) with
U+FFFD before the app's handler renders it, whatever handler the app installed.

A JSON body that is not valid UTF-8 makes FastAPI answer ``400 "There was an error parsing the
body"``, a status no route documents; it becomes the same ``422 json_invalid`` answer as any
other malformed JSON, so the OpenAPI schema stays true to what the routes answer.

A rate-limit or CSRF refusal (:class:`~fastapi_userkit.exceptions.RateLimited`,
:class:`~fastapi_userkit.exceptions.CSRFRejected`, ...) raised anywhere in a route, its
dependencies included, is answered through the error table like inside ``translate()``
(issue 17): their answer does not depend on the route.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException  # what FastAPI's body parsing raises

from fastapi_userkit.router.common import translate

__all__ = ["UserkitRoute"]


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if not value.isascii() else value
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item) for item in value)
    return value


class UserkitRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` whose validation errors never carry lone surrogates."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler to clean :class:`RequestValidationError` contents."""
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                with translate():
                    return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(_scrub(list(exc.errors())), body=_scrub(exc.body)) from exc
            except HTTPException as exc:
                if exc.status_code != status.HTTP_400_BAD_REQUEST or not isinstance(exc.__cause__, UnicodeDecodeError):
                    raise
                error = {"type": "json_invalid", "loc": ("body",), "msg": "The body is not valid UTF-8.", "input": {}}
                raise RequestValidationError([error]) from exc

        return route_handler
