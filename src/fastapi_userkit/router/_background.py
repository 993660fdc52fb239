"""Run a manager call after the response is sent, for the enumeration-safe flows.

``/forgot-password``, ``/request-verify-token`` and an enumeration-safe ``/register`` answer the
same whether or not the address belongs to an account (OWASP ASVS 5.0 6.3.8). Doing the
address-dependent work (issuing a token, the app's hook that e-mails it, storing the event)
before answering would let the response time tell (FastAPI Users #1534). The routes therefore
do only the work both cases share (one indexed lookup) and hand the rest to Starlette's
background tasks, which run once the response has been sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import ParamSpec

from fastapi_userkit import exceptions

__all__ = ["after_response"]

P = ParamSpec("P")


def after_response(
    call: Callable[P, Awaitable[object]], *quiet: type[exceptions.FastAPIUsersException]
) -> Callable[P, Awaitable[None]]:
    """Wrap ``call`` for ``BackgroundTasks.add_task``, ignoring the domain errors in ``quiet``.

    The client already has its answer, so an expected refusal (an inactive user, an address
    already verified) has nowhere to go; anything else propagates to the server's error log.
    """

    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with contextlib.suppress(*quiet):
            await call(*args, **kwargs)

    return run
