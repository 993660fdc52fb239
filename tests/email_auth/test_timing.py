"""request() takes as long for an unknown or inactive address as for a known one (ASVS 5.0 6.3.8).

Measured as the caller sees it before answering: with ``defer``, the e-mail (here a mailer that
takes 200 ms) runs after the response, so only the lookup and the row write count. Those take a
few milliseconds, where a shared machine's noise is of the same size, so the medians of
interleaved samples are compared by difference against the mail's delay, not by ratio: a mail
sent before the answer (200 ms on one side only) shows, scheduling noise does not.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

from fastapi_userkit.email_auth import EmailAuthMailer
from fastapi_userkit.mail import AccountMailer
from tests.conftest import SessionMaker
from tests.email_auth.conftest import Clock, Log, MakeUser, SignInClient

MAIL_DELAY = 0.2
ROUNDS = 9


class SlowMailer:
    """A delivery backend that takes MAIL_DELAY seconds per message."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, message: EmailMessage) -> None:
        """Wait, then count the message."""
        await asyncio.sleep(MAIL_DELAY)
        self.sent += 1


async def test_request_time_does_not_tell_addresses_apart(
    db: SessionMaker, log: Log, clock: Clock, make_user: MakeUser
) -> None:
    """Medians of unknown and inactive requests stay within half a mail's delay of known ones; mail is sent after."""
    slow = SlowMailer()
    client = SignInClient(db, log, EmailAuthMailer(AccountMailer(slow, sender="noreply@camelot.bt")), clock)
    known = await make_user("known@camelot.bt")
    await make_user("inactive@camelot.bt", is_active=False)
    deferred: list[Callable[[], Awaitable[None]]] = []

    async def timed(email: str) -> float:
        start = time.perf_counter()
        await client.request(email, defer=deferred.append)
        return time.perf_counter() - start

    samples: dict[str, list[float]] = {"known": [], "unknown": [], "inactive": []}
    await timed(known.email)  # warm-up: first connection, statement caches
    for _ in range(ROUNDS):
        samples["known"].append(await timed(known.email))
        samples["unknown"].append(await timed("nobody@camelot.bt"))
        samples["inactive"].append(await timed("inactive@camelot.bt"))
    medians = {case: statistics.median(times) for case, times in samples.items()}
    for send in deferred:
        await send()

    assert all(abs(medians[case] - medians["known"]) < MAIL_DELAY / 2 for case in ("unknown", "inactive")), medians
    assert medians["known"] < MAIL_DELAY, medians  # the mail did not run before the answer
    assert slow.sent == ROUNDS + 1  # the known address's e-mails, all sent after their answers
