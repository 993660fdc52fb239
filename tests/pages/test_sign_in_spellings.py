"""The pages' sign-in shares one account's throttle across Unicode spellings (issue 16, item 2)."""

from __future__ import annotations

from tests.conftest import SessionMaker
from tests.pages.support import PASSWORD, client_for, pages_app, sign_up_and_in, submit


async def test_a_throttled_account_is_throttled_in_every_spelling(db: SessionMaker) -> None:
    """After five failed sign-ins, the right password typed with a word joiner or in capitals gets 429."""
    test_app = pages_app(db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "victim@example.com")
        client.cookies.clear()
        wrong = {"email": "victim@example.com", "password": "not the password"}
        failures = [(await submit(client, "/account/sign-in", "/account/sign-in", wrong)).status_code for _ in range(5)]
        spelled = [
            (
                await submit(client, "/account/sign-in", "/account/sign-in", {"email": email, "password": PASSWORD})
            ).status_code
            for email in ["victim\u2060@example.com", "VICTIM@example.com", "v\u0130ctim@example.com"]
        ]

    assert failures == [400] * 5
    assert spelled == [429, 429, 429]
