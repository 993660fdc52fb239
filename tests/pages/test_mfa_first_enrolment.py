"""A first two-factor enrolment on the pages needs a recent sign-in (T43; SQLite and PostgreSQL).

Regression test of the outside review's F3 on the pages: a stale session of a user without a
factor is sent through "confirm it's you" (the password alone) before the key is shown.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fastapi_userkit.db._types import now_utc
from fastapi_userkit.pages import _two_factor
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock
from tests.pages.mfa_support import enrol_on_pages, mfa_pages_app, post_form
from tests.pages.support import PASSWORD, client_for, sign_up_and_in, submit

EMAIL = "ada@example.com"
BACK_TO_TWO_FACTOR = "/account/confirm?next=%2Faccount%2Ftwo-factor"


@pytest.fixture
def clock() -> Clock:
    """The TOTP codes' clock (the sessions' assurance keeps the real time)."""
    return Clock()


def an_hour_later() -> datetime:
    """The real time an hour on: every sign-in made in the test is stale by then."""
    return now_utc() + timedelta(hours=1)


async def test_a_stale_session_confirms_before_a_first_enrolment(
    http_db: SessionMaker, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An hour-old session gets "confirm it's you" (password only), not the key; a recent one enrols."""
    test_app = mfa_pages_app(http_db, clock)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, EMAIL)
        monkeypatch.setattr(_two_factor, "now_utc", an_hour_later, raising=False)
        sent_away = await submit(client, "/account/two-factor", "/account/two-factor/totp", {})
        monkeypatch.undo()
        confirm_page = await client.get(sent_away.headers["location"])
        confirmed = await post_form(
            client, confirm_page, "/account/confirm", {"password": PASSWORD, "next": "/account/two-factor"}
        )
        enrolled = await enrol_on_pages(client, clock)

    assert sent_away.status_code == 303, sent_away.text
    assert sent_away.headers["location"] == BACK_TO_TWO_FACTOR
    assert 'name="code"' not in confirm_page.text
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/account/two-factor?notice=confirmed"
    assert len(enrolled.recovery_codes) == 10
