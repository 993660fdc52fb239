"""Races and failures around the services: concurrent uses, an address taken between check and write, mail down."""

from __future__ import annotations

import asyncio
import logging
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.email_auth import (
    EmailAddressTaken,
    EmailAuthMailer,
    EmailChangeService,
    EmailLinkInvalid,
    EmailLinkUsed,
    EmailSignInService,
    SQLAlchemyEmailChangeStore,
    SQLAlchemyEmailSignInStore,
)
from fastapi_userkit.mail import AccountMailer, FileMailer, MailDeliveryError
from fastapi_userkit.testing import Outbox
from tests.conftest import SessionMaker
from tests.email_auth.conftest import (
    CONFIRM_URL,
    LINK_URL,
    REVERT_URL,
    START,
    ChangeClient,
    Log,
    MakeUser,
    RecordingManager,
    SignInFactory,
    link_token,
    read_user,
)
from tests.models import EmailChange, EmailSignIn, User

_SIGN_IN_CONTEXT = {
    "link": "https://camelot.bt/l?token=SECRET-LINK",
    "code": "ABCDEF",
    "lifetime_minutes": 10,
    "sign_up": False,
}


class LateUserDatabase(SQLAlchemyUserDatabase[User, uuid.UUID]):
    """Its first address lookup finds no owner: the window between a service's check and its write, held open.

    Later lookups (the adapter's own, after the unique index refused the write) see the database.
    """

    checked = False

    async def get_by_email(self, email: str) -> User | None:
        """Nobody has the address yet the first time; the truth afterwards."""
        if not self.checked:
            self.checked = True
            return None
        return await super().get_by_email(email)


class DownMailer:
    """A delivery backend whose server is unreachable."""

    async def send(self, message: EmailMessage) -> None:
        """Always fail."""
        raise MailDeliveryError("connection refused")


async def test_concurrent_confirmations_change_the_address_once(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser
) -> None:
    """Of simultaneous uses of one confirmation link exactly one succeeds; the others are told it was used."""
    user = await make_user("arthur@camelot.bt")
    await change.request_change(user, "arthur@avalon.bt")
    token = link_token(outbox.last(to="arthur@avalon.bt"), CONFIRM_URL)

    async def confirm() -> bool:
        try:
            await change.confirm(token)
        except EmailLinkUsed:
            return False
        return True

    outcomes = await asyncio.gather(*(confirm() for _ in range(6)))

    assert outcomes.count(True) == 1


async def test_concurrent_reverts_succeed_once(change: ChangeClient, outbox: Outbox, make_user: MakeUser) -> None:
    """Of simultaneous uses of one revert link exactly one succeeds."""
    user = await make_user("arthur@camelot.bt")
    await change.request_change(user, "arthur@avalon.bt")
    token = link_token(outbox.last(to="arthur@camelot.bt"), REVERT_URL)

    async def revert() -> bool:
        try:
            await change.revert(token)
        except EmailLinkUsed:
            return False
        return True

    outcomes = await asyncio.gather(*(revert() for _ in range(6)))

    assert outcomes.count(True) == 1


async def test_deleting_the_user_kills_its_links(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """After the user is deleted, its change links are invalid (rows cascade, or the user is gone)."""
    user = await make_user("arthur@camelot.bt")
    await change.request_change(user, "arthur@avalon.bt")
    revert = link_token(outbox.last(to="arthur@camelot.bt"), REVERT_URL)
    confirm = link_token(outbox.last(to="arthur@avalon.bt"), CONFIRM_URL)
    async with db() as session:
        user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = SQLAlchemyUserDatabase(session, User)
        found = await user_db.get(user.id)
        assert found is not None
        await user_db.delete(found)

    with pytest.raises(EmailLinkInvalid):
        await change.revert(revert)
    with pytest.raises(EmailLinkInvalid):
        await change.confirm(confirm)


async def test_an_address_taken_between_check_and_write_is_refused_at_confirmation(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker, log: Log, mailer: EmailAuthMailer
) -> None:
    """The unique index decides: a confirmation whose address an account took after the check is refused."""
    user = await make_user("arthur@camelot.bt")
    await change.request_change(user, "arthur@avalon.bt")
    token = link_token(outbox.last(to="arthur@avalon.bt"), CONFIRM_URL)
    await make_user("ARTHUR@avalon.bt")

    async with db() as session:
        manager = RecordingManager(LateUserDatabase(session, User), log)
        service = EmailChangeService(
            SQLAlchemyEmailChangeStore(session, EmailChange), manager, change.settings, mailer, clock=change.clock
        )
        with pytest.raises(EmailAddressTaken):
            await service.confirm(token)

    assert (await read_user(db, user)).email == "arthur@camelot.bt"


async def test_a_sign_up_address_taken_between_check_and_write_is_refused(
    sign_in: SignInFactory, outbox: Outbox, make_user: MakeUser, db: SessionMaker, log: Log, mailer: EmailAuthMailer
) -> None:
    """A registration that lands between the sign-up's check and its insert wins; the sign-up is refused."""
    client = sign_in(allow_sign_up=True)
    await client.request("race@camelot.bt")
    token = link_token(outbox.last(to="race@camelot.bt"), LINK_URL)
    await make_user("race@camelot.bt")

    async with db() as session:
        manager = RecordingManager(LateUserDatabase(session, User), log)
        service = EmailSignInService(
            SQLAlchemyEmailSignInStore(session, EmailSignIn), manager, client.settings, mailer, clock=client.clock
        )
        with pytest.raises(EmailAddressTaken):
            await service.complete_by_link(token)


async def test_the_change_e_mails_can_be_sent_after_the_response(
    change: ChangeClient, outbox: Outbox, make_user: MakeUser, db: SessionMaker
) -> None:
    """With ``defer``, request_change stores the change and hands both e-mails to the deferral."""
    user = await make_user("arthur@camelot.bt")
    deferred: list[object] = []

    async with db() as session:
        await change.service(session).request_change(user, "arthur@avalon.bt", defer=deferred.append)
    sent_before = len(outbox)
    await deferred[0]()  # type: ignore[operator]  # the deferred coroutine function

    assert sent_before == 0
    assert sorted(message.to for message in outbox.messages) == ["arthur@avalon.bt", "arthur@camelot.bt"]


async def test_a_delivery_failure_is_logged_without_the_link(caplog: pytest.LogCaptureFixture) -> None:
    """Mail down: the e-mail counts as not sent and the log names the kind of e-mail, never the link."""
    mailer = EmailAuthMailer(AccountMailer(DownMailer(), sender="noreply@camelot.bt"))

    with caplog.at_level(logging.ERROR, logger="fastapi_userkit.mail"):
        sent = await mailer.send("email_sign_in", "a@camelot.bt", _SIGN_IN_CONTEXT, when=START)

    assert not sent
    assert "email_sign_in" in caplog.text
    assert "SECRET-LINK" not in caplog.text


async def test_a_delivery_failure_propagates_with_raise_errors() -> None:
    """With the account mailer's ``raise_errors`` on, the delivery error reaches the caller."""
    mailer = EmailAuthMailer(AccountMailer(DownMailer(), sender="noreply@camelot.bt", raise_errors=True))

    with pytest.raises(MailDeliveryError):
        await mailer.send("email_sign_in", "a@camelot.bt", _SIGN_IN_CONTEXT, when=START)


async def test_the_file_mailer_writes_a_multipart_message(tmp_path: Path) -> None:
    """Through the file outbox, the sign-in e-mail is one .eml with a text and an HTML part and the app's sender."""
    outbox = FileMailer(tmp_path)
    mailer = EmailAuthMailer(AccountMailer(outbox, sender="Camelot <noreply@camelot.bt>", app_name="Camelot"))

    assert await mailer.send("email_sign_in", "a@camelot.bt", _SIGN_IN_CONTEXT, when=START)
    (path,) = outbox.paths()
    raw = path.read_text()

    assert "multipart/alternative" in raw
    assert "text/html" in raw
    assert "From: Camelot <noreply@camelot.bt>" in raw
    assert "To: a@camelot.bt" in raw
