"""EmailSignInService on SQLite, PostgreSQL and MariaDB, with the test kit's outbox as mailer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import text

from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit.email_auth import (
    EmailAddressTaken,
    EmailCodeAttemptsExhausted,
    EmailCodeInvalid,
    EmailLinkExpired,
    EmailLinkInvalid,
    EmailLinkUsed,
    EmailSignInService,
    EmailSignInSettings,
)
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.security.events import SecurityEventType
from fastapi_userkit.testing import Outbox
from tests.conftest import SessionMaker
from tests.email_auth.conftest import (
    KEY,
    LINK_URL,
    Clock,
    Log,
    MakeUser,
    SignInFactory,
    UpdateUser,
    code_of,
    link_token,
    read_user,
)


async def _issue(sign_in: SignInFactory, outbox: Outbox, email: str, **settings: object) -> tuple[str, str]:
    """Request a sign-in e-mail for ``email``; return its link token and code."""
    await sign_in(**settings).request(email)
    message = outbox.last(to=email)
    return link_token(message, LINK_URL), code_of(message)


async def test_the_link_signs_in_once_and_kills_the_code(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser
) -> None:
    """The link signs its user in; a second use of it, and the code of the same e-mail, are refused."""
    user = await make_user()
    token, code = await _issue(sign_in, outbox, user.email)

    result = await sign_in().complete_by_link(token)

    assert result.user.id == user.id
    assert (result.created, result.verified) == (False, False)
    with pytest.raises(EmailLinkUsed):
        await sign_in().complete_by_link(token)
    with pytest.raises(EmailCodeInvalid):
        await sign_in().complete_by_code(user.email, code)


async def test_the_code_signs_in_once_and_kills_the_link(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser
) -> None:
    """The code (typed in lower case, with a dash) signs in; then neither it nor the link works."""
    user = await make_user()
    token, code = await _issue(sign_in, outbox, user.email)

    result = await sign_in().complete_by_code(user.email.upper(), f"{code[:3]}-{code[3:]}".lower())

    assert result.user.id == user.id
    with pytest.raises(EmailCodeInvalid):
        await sign_in().complete_by_code(user.email, code)
    with pytest.raises(EmailLinkUsed):
        await sign_in().complete_by_link(token)


async def test_link_and_code_expire_with_the_clock(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser, clock: Clock
) -> None:
    """Past the lifetime both halves are refused as expired; just before it the code still works."""
    user = await make_user()
    token, code = await _issue(sign_in, outbox, user.email, lifetime=timedelta(minutes=5))
    clock.advance(minutes=5)

    with pytest.raises(EmailLinkExpired):
        await sign_in().complete_by_link(token)
    with pytest.raises(EmailLinkExpired):
        await sign_in().complete_by_code(user.email, code)

    token, code = await _issue(sign_in, outbox, user.email)
    clock.advance(minutes=9, seconds=59)
    assert (await sign_in().complete_by_code(user.email, code)).user.id == user.id


async def test_wrong_codes_are_capped(sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser) -> None:
    """Each wrong or malformed code counts; after max_attempts the right code is refused too."""
    user = await make_user()
    token, code = await _issue(sign_in, outbox, user.email, max_attempts=3)
    service = sign_in(max_attempts=3)

    with pytest.raises(EmailCodeInvalid):
        await service.complete_by_code(user.email, "222222" if code != "222222" else "333333")
    with pytest.raises(EmailCodeInvalid):
        await service.complete_by_code(user.email, "not a code")
    with pytest.raises(EmailCodeInvalid):
        await service.complete_by_code(user.email, "ÄÄÄÄÄÄ")
    with pytest.raises(EmailCodeAttemptsExhausted):
        await service.complete_by_code(user.email, code)
    # The link is not a guess: it still works once.
    assert (await service.complete_by_link(token)).user.id == user.id


async def test_concurrent_attempts_never_pass_the_cap(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser
) -> None:
    """Ten simultaneous wrong codes: exactly five are judged, the others find no attempt left."""
    user = await make_user()
    _, code = await _issue(sign_in, outbox, user.email)
    wrong = "222222" if code != "222222" else "333333"

    async def attempt() -> type[Exception]:
        try:
            await sign_in().complete_by_code(user.email, wrong)
        except (EmailCodeInvalid, EmailCodeAttemptsExhausted) as exc:
            return type(exc)
        raise AssertionError("a wrong code was accepted")  # pragma: no cover

    outcomes = await asyncio.gather(*(attempt() for _ in range(10)))

    assert outcomes.count(EmailCodeInvalid) == 5
    assert outcomes.count(EmailCodeAttemptsExhausted) == 5


async def test_link_and_code_used_at_once_sign_in_once(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser
) -> None:
    """The link and the code used simultaneously (several times each): exactly one use succeeds."""
    user = await make_user()
    token, code = await _issue(sign_in, outbox, user.email)

    async def use(call: Callable[[], Awaitable[object]]) -> bool:
        try:
            await call()
        except (EmailLinkUsed, EmailCodeInvalid):
            return False
        return True

    calls = [lambda: sign_in().complete_by_link(token), lambda: sign_in().complete_by_code(user.email, code)] * 4
    outcomes = await asyncio.gather(*(use(call) for call in calls))

    assert outcomes.count(True) == 1


async def test_known_unknown_and_inactive_addresses_get_the_same_answer(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """request() writes one row for each address; only the known active user gets an e-mail, after the answer."""
    known = await make_user("known@camelot.bt")
    await make_user("inactive@camelot.bt", is_active=False)
    deferred: list[object] = []

    for email in ("known@camelot.bt", "nobody@camelot.bt", "inactive@camelot.bt"):
        await sign_in().request(email, defer=deferred.append)  # typed to return None, whatever the address
    async with db() as session:
        rows = (await session.execute(text("SELECT email, user_id FROM email_sign_in"))).all()

    assert sorted(email for email, _ in rows) == ["inactive@camelot.bt", "known@camelot.bt", "nobody@camelot.bt"]
    assert len(outbox) == 0  # nothing is sent before the response: it is deferred
    assert len(deferred) == 1
    await deferred[0]()  # type: ignore[operator]  # the deferred coroutine function
    assert [message.to for message in outbox.messages] == [known.email]


async def test_an_unknown_address_behaves_like_a_known_one_at_the_code_step(
    sign_in: SignInFactory, make_user: MakeUser
) -> None:
    """Codes for an unknown address are refused like wrong ones, then exhausted after the cap, as for a user."""
    user = await make_user()
    outcomes: dict[str, list[str]] = {}
    for email in (user.email, "nobody@camelot.bt"):
        await sign_in().request(email)
        outcomes[email] = []
        for _ in range(6):
            try:
                await sign_in().complete_by_code(email, "ZZZZZZ")
            except (EmailCodeInvalid, EmailCodeAttemptsExhausted) as exc:
                outcomes[email].append(exc.code)

    assert outcomes[user.email] == outcomes["nobody@camelot.bt"]
    assert outcomes[user.email][-1] == EmailCodeAttemptsExhausted.code


async def test_a_code_for_an_address_without_a_sign_in_is_invalid(sign_in: SignInFactory) -> None:
    """No request was made: the code is refused as a wrong code; an unknown link as an invalid link."""
    with pytest.raises(EmailCodeInvalid):
        await sign_in().complete_by_code("nobody@camelot.bt", "ABCDEF")
    with pytest.raises(EmailLinkInvalid):
        await sign_in().complete_by_link("no-such-link")


async def test_a_new_request_replaces_the_previous_e_mail(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser
) -> None:
    """After a second request, the first e-mail's link and code no longer work; the second's do."""
    user = await make_user()
    old_token, old_code = await _issue(sign_in, outbox, user.email)
    token, code = await _issue(sign_in, outbox, user.email)

    with pytest.raises(EmailLinkInvalid):
        await sign_in().complete_by_link(old_token)
    if old_code != code:
        with pytest.raises(EmailCodeInvalid):
            await sign_in().complete_by_code(user.email, old_code)
    assert (await sign_in().complete_by_link(token)).user.id == user.id


async def test_first_use_verifies_the_address(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser, log: Log
) -> None:
    """An unverified user who signs in by e-mail becomes verified; its password is cleared and its sessions end."""
    user = await make_user(is_verified=False)
    token, _ = await _issue(sign_in, outbox, user.email)

    result = await sign_in().complete_by_link(token)

    assert (result.verified, result.password_cleared) == (True, True)
    assert result.user.is_verified
    assert not has_usable_password(result.user.hashed_password)
    assert [event.type for event in log.events] == [
        SecurityEventType.SESSIONS_REVOKED,
        SecurityEventType.VERIFICATION_COMPLETED,
    ]
    assert log.events[1].details == {"via": "email_sign_in", "first_proof": "registrant_login_cleared"}
    assert log.hooks == ["verify"]


async def test_a_verified_user_keeps_its_password_and_sessions(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser, db: SessionMaker, log: Log
) -> None:
    """Only the first proof of a never-verified address clears anything: a verified user's password stays."""
    user = await make_user(is_verified=True)
    _, code = await _issue(sign_in, outbox, user.email)

    result = await sign_in().complete_by_code(user.email, code)

    assert (result.verified, result.password_cleared) == (False, False)
    assert (await read_user(db, user)).hashed_password == user.hashed_password
    assert log.events == []


async def test_inactive_users_and_changed_addresses_cannot_use_their_link(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser, update_user: UpdateUser
) -> None:
    """A user deactivated, or whose address changed, after the e-mail went out is refused."""
    user = await make_user()
    other = await make_user()
    token, code = await _issue(sign_in, outbox, user.email)
    other_token, _ = await _issue(sign_in, outbox, other.email)
    await update_user(user, {"is_active": False})
    await update_user(other, {"email": "moved@camelot.bt"})

    with pytest.raises(EmailLinkInvalid):
        await sign_in().complete_by_link(token)
    with pytest.raises(EmailCodeInvalid):
        await sign_in().complete_by_code(user.email, code)
    with pytest.raises(EmailLinkInvalid):
        await sign_in().complete_by_link(other_token)


async def test_sign_up_is_off_by_default_and_creates_a_verified_account_when_on(
    sign_in: SignInFactory, outbox: Outbox, log: Log
) -> None:
    """Off: an unknown address gets no e-mail. On: it gets one, and its link creates a verified, password-less user."""
    await sign_in().request("new@camelot.bt")
    assert len(outbox) == 0

    token, _ = await _issue(sign_in, outbox, "new@camelot.bt", allow_sign_up=True)
    with pytest.raises(EmailLinkInvalid):  # sign-up turned off again before the link is used
        await sign_in().complete_by_link(token)
    result = await sign_in(allow_sign_up=True).complete_by_link(token)

    assert "creates one" in outbox.last().text
    assert (result.created, result.verified) == (True, True)
    assert (result.user.email, result.user.is_verified) == ("new@camelot.bt", True)
    assert result.user.hashed_password.startswith("!")  # an unusable password marker
    assert log.hooks == ["register"]
    assert [event.type for event in log.events] == [SecurityEventType.REGISTERED]


async def test_sign_up_refuses_an_address_registered_meanwhile(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser
) -> None:
    """A sign-up link whose address became an account before it was used is refused with a clear error."""
    token, _ = await _issue(sign_in, outbox, "race@camelot.bt", allow_sign_up=True)
    await make_user("race@camelot.bt")

    with pytest.raises(EmailAddressTaken):
        await sign_in(allow_sign_up=True).complete_by_link(token)


async def test_sign_up_skips_look_alike_addresses(sign_in: SignInFactory, outbox: Outbox) -> None:
    """An address registration would refuse (a full-width letter) gets no sign-up e-mail."""
    await sign_in(allow_sign_up=True).request("\uff4dallory@camelot.bt")

    assert len(outbox) == 0


async def test_the_table_holds_no_link_or_code(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """The stored row contains neither the link secret nor the code, in any column."""
    user = await make_user()
    token, code = await _issue(sign_in, outbox, user.email)

    async with db() as session:
        rows = (await session.execute(text("SELECT * FROM email_sign_in"))).all()

    dump = " ".join(str(value) for row in rows for value in row)
    assert len(rows) == 1
    assert token not in dump
    assert code not in dump


async def test_the_e_mail_carries_link_and_code_in_text_and_html_but_not_in_the_subject(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser
) -> None:
    """Both bodies hold the link and the code; the subject (logged by mail servers) holds neither."""
    user = await make_user()
    token, code = await _issue(sign_in, outbox, user.email)
    message = outbox.last()
    html = message.message.get_body(preferencelist=("html",))
    assert html is not None

    assert code not in message.subject
    assert message.subject == "Sign in to Camelot"
    assert token in html.get_content()
    assert code in html.get_content()
    assert "10 minutes" in message.text


async def test_the_service_needs_the_feature_on(sign_in: SignInFactory, db: SessionMaker) -> None:
    """Settings with enabled=False are refused when the service is built."""
    client = sign_in()
    off = EmailSignInSettings(secret=KEY, link_url=LINK_URL)

    async with db() as session:
        working = client.service(session)
        with pytest.raises(ConfigurationError):
            EmailSignInService(working.store, working.user_manager, off, client.mailer)


async def test_housekeeping_deletes_expired_sign_ins(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser, clock: Clock
) -> None:
    """delete_expired removes only the rows past their lifetime."""
    await sign_in().request((await make_user()).email)
    clock.advance(minutes=6)
    await sign_in().request((await make_user()).email)
    clock.advance(minutes=5)

    assert await sign_in().delete_expired() == 1
    assert await sign_in().delete_expired() == 0
