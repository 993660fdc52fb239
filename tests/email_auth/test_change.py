"""EmailChangeService on SQLite, PostgreSQL and MariaDB: pending, confirmed, reverted, replaced, taken (T40)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from fastapi_userkit.email_auth import (
    EmailAddressTaken,
    EmailAddressUnchanged,
    EmailLinkExpired,
    EmailLinkInvalid,
    EmailLinkUsed,
)
from fastapi_userkit.security.events import SecurityEventType
from fastapi_userkit.testing import Outbox
from tests.conftest import SessionMaker
from tests.email_auth.conftest import (
    CONFIRM_URL,
    REVERT_URL,
    ChangeClient,
    Clock,
    Log,
    MakeUser,
    UpdateUser,
    link_token,
    read_user,
)
from tests.models import User

OLD = "arthur@camelot.bt"
NEW = "arthur@avalon.bt"


async def _ask(change: ChangeClient, outbox: Outbox, user: User, new_email: str) -> tuple[str, str]:
    """Ask for a change of ``user``'s address; return the confirmation and revert tokens."""
    await change.request_change(user, new_email)
    confirm = link_token(outbox.last(to=new_email), CONFIRM_URL)
    revert = link_token(outbox.last(to=user.email), REVERT_URL)
    return confirm, revert


async def test_the_address_changes_only_when_the_new_address_confirms(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker, log: Log
) -> None:
    """Asking changes nothing and mails both addresses; the confirmation link changes the row, once."""
    user = await make_user(OLD, is_verified=False)

    confirm, _ = await _ask(change, outbox, user, NEW)
    pending = await change.pending(user)
    before = await read_user(db, user)
    changed = await change.confirm(confirm)

    assert before.email == OLD
    assert pending is not None
    assert pending.new_email == NEW
    assert sorted(message.to for message in outbox.messages) == [NEW, OLD]
    assert NEW in outbox.last(to=OLD).text  # the notice names the new address
    assert (changed.email, changed.is_verified) == (NEW, True)
    assert (await read_user(db, user)).email == NEW
    assert await change.pending(user) is None
    assert [event.type for event in log.events] == [SecurityEventType.EMAIL_CHANGED]
    assert log.hooks == ["update:email"]
    with pytest.raises(EmailLinkUsed):
        await change.confirm(confirm)


async def test_revert_after_confirmation_restores_the_old_address(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """The old address's link puts it back, tells the caller to end every session, and works once."""
    user = await make_user(OLD)
    confirm, revert = await _ask(change, outbox, user, NEW)
    await change.confirm(confirm)

    result = await change.revert(revert)

    assert (result.email, result.discarded_email, result.restored, result.end_sessions) == (OLD, NEW, True, True)
    assert not result.address_taken
    assert (await read_user(db, user)).email == OLD
    with pytest.raises(EmailLinkUsed):
        await change.revert(revert)


async def test_revert_before_confirmation_cancels_the_change(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """Reverted while pending: nothing to restore, the confirmation link is dead, sessions still end."""
    user = await make_user(OLD)
    confirm, revert = await _ask(change, outbox, user, NEW)

    result = await change.revert(revert)

    assert (result.restored, result.end_sessions, result.email) == (False, True, OLD)
    with pytest.raises(EmailLinkUsed):
        await change.confirm(confirm)
    assert (await read_user(db, user)).email == OLD


async def test_a_new_change_cancels_the_pending_one(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """Of two pending changes only the newer confirms; the older one's revert link still works."""
    user = await make_user(OLD)
    first_confirm, first_revert = await _ask(change, outbox, user, "first@avalon.bt")
    second_confirm, _ = await _ask(change, outbox, user, NEW)

    with pytest.raises(EmailLinkUsed):
        await change.confirm(first_confirm)
    pending = await change.pending(user)
    assert pending is not None
    assert pending.new_email == NEW
    await change.confirm(second_confirm)
    result = await change.revert(first_revert)

    assert result.restored
    assert (await read_user(db, user)).email == OLD


async def test_a_chain_of_changes_is_undone_by_the_first_owner(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """After OLD -> A -> B, OLD's revert link restores OLD, and A's revert link no longer works."""
    user = await make_user(OLD)
    confirm_a, revert_old = await _ask(change, outbox, user, "a@avalon.bt")
    moved = await change.confirm(confirm_a)
    confirm_b, revert_a = await _ask(change, outbox, moved, "b@avalon.bt")
    await change.confirm(confirm_b)

    result = await change.revert(revert_old)

    assert (result.email, result.restored) == (OLD, True)
    with pytest.raises(EmailLinkUsed):
        await change.revert(revert_a)
    assert (await read_user(db, user)).email == OLD


async def test_a_taken_address_is_refused_only_when_the_link_is_used(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """Asking for a taken address sends the same two e-mails; its confirmation is refused and changes nothing."""
    user = await make_user(OLD)
    await make_user(NEW)

    confirm, _ = await _ask(change, outbox, user, NEW)

    assert sorted(message.to for message in outbox.messages) == [NEW, OLD]
    with pytest.raises(EmailAddressTaken):
        await change.confirm(confirm)
    assert (await read_user(db, user)).email == OLD


async def test_revert_when_the_old_address_was_taken_meanwhile(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """The old address now belongs to someone else: the revert closes the changes and says so."""
    user = await make_user(OLD)
    confirm, revert = await _ask(change, outbox, user, NEW)
    await change.confirm(confirm)
    await make_user(OLD)

    result = await change.revert(revert)

    assert (result.restored, result.address_taken, result.end_sessions, result.email) == (False, True, True, NEW)
    assert (await read_user(db, user)).email == NEW


async def test_the_links_expire_with_the_clock(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, clock: Clock
) -> None:
    """The confirmation dies after an hour; the revert link lives seven days, not more."""
    user = await make_user(OLD)
    confirm, revert = await _ask(change, outbox, user, NEW)
    clock.advance(hours=1)

    with pytest.raises(EmailLinkExpired):
        await change.confirm(confirm)
    assert await change.pending(user) is None
    clock.advance(days=6, hours=22)
    assert not (await change.revert(revert)).restored

    _, revert = await _ask(change, outbox, user, NEW)
    clock.advance(days=7)
    with pytest.raises(EmailLinkExpired):
        await change.revert(revert)


async def test_stale_and_unknown_links_are_invalid(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, update_user: UpdateUser
) -> None:
    """Unknown links are invalid; so is a confirmation after the address changed another way, or of an inactive user."""
    user = await make_user(OLD)
    other = await make_user()
    confirm, _ = await _ask(change, outbox, user, NEW)
    other_confirm, _ = await _ask(change, outbox, other, "other@avalon.bt")
    await update_user(user, {"email": "admin-set@camelot.bt"})
    await update_user(other, {"is_active": False})

    with pytest.raises(EmailLinkInvalid):
        await change.confirm(confirm)
    with pytest.raises(EmailLinkInvalid):
        await change.confirm(other_confirm)
    with pytest.raises(EmailLinkInvalid):
        await change.confirm("no-such-link")
    with pytest.raises(EmailLinkInvalid):
        await change.revert("no-such-link")


async def test_the_same_address_is_refused(change: ChangeClient, make_user: MakeUser, outbox: Outbox) -> None:
    """A change to the current address is a clear error, and sends nothing."""
    user = await make_user(OLD)

    with pytest.raises(EmailAddressUnchanged):
        await change.request_change(user, OLD)
    assert len(outbox) == 0


async def test_the_table_holds_no_link(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """The stored change contains neither the confirmation nor the revert secret."""
    user = await make_user(OLD)
    confirm, revert = await _ask(change, outbox, user, NEW)

    async with db() as session:
        rows = (await session.execute(text("SELECT * FROM email_change"))).all()

    dump = " ".join(str(value) for row in rows for value in row)
    assert len(rows) == 1
    assert confirm not in dump
    assert revert not in dump


async def test_the_e_mails_have_text_and_html(change: ChangeClient, outbox: Outbox, make_user: MakeUser) -> None:
    """Both e-mails are multipart with the link in the HTML too; the notice names its lifetime in days."""
    user = await make_user(OLD)
    confirm, revert = await _ask(change, outbox, user, NEW)
    confirmation, notice = outbox.last(to=NEW), outbox.last(to=OLD)
    confirmation_html = confirmation.message.get_body(preferencelist=("html",))
    notice_html = notice.message.get_body(preferencelist=("html",))
    assert confirmation_html is not None
    assert notice_html is not None

    assert confirm in confirmation_html.get_content()
    assert revert in notice_html.get_content()
    assert "7 days" in notice.text
    assert "60 minutes" in confirmation.text


async def test_cancel_and_resend(change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker) -> None:
    """Cancel kills the confirmation (once); resend mails new links and kills the old ones; neither acts on nothing."""
    user = await make_user(OLD)
    first, _ = await _ask(change, outbox, user, NEW)

    async with db() as session:
        cancelled = await change.service(session).cancel(user)
    async with db() as session:
        cancelled_again = await change.service(session).cancel(user)
    async with db() as session:
        resent_nothing = await change.service(session).resend(user)
    sent_before = len(outbox)
    second, _ = await _ask(change, outbox, user, NEW)
    async with db() as session:
        resent = await change.service(session).resend(user)
    third = link_token(outbox.last(to=NEW), CONFIRM_URL)

    assert (cancelled, cancelled_again, resent_nothing) == (True, False, None)
    assert resent is not None
    assert resent.new_email == NEW
    assert len(outbox) == sent_before + 4
    for dead in (first, second):
        with pytest.raises(EmailLinkUsed):
            await change.confirm(dead)
    assert (await change.confirm(third)).email == NEW


async def test_a_revert_ends_every_session_of_the_user(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, log: Log
) -> None:
    """Restored or only cancelled, a revert ends the sessions (sessions_revoked) and removes the password
    (password_changed, change=removed); a restore emits email_changed."""
    user = await make_user(OLD)
    _, pending_revert = await _ask(change, outbox, user, NEW)
    user = (await change.revert(pending_revert)).user  # its password hash changed (made unusable)
    cancelled_events = [event.type for event in log.events]
    confirm, revert = await _ask(change, outbox, user, NEW)
    await change.confirm(confirm)
    log.events.clear()

    await change.revert(revert)

    assert cancelled_events == [SecurityEventType.SESSIONS_REVOKED, SecurityEventType.PASSWORD_CHANGED]
    assert [event.type for event in log.events] == [
        SecurityEventType.EMAIL_CHANGED,
        SecurityEventType.SESSIONS_REVOKED,
        SecurityEventType.PASSWORD_CHANGED,
    ]
    assert log.events[-1].details == {"change": "removed", "via": "reverted_change"}
