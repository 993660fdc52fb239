"""AccountMailer: templates, links, headers, notices and delivery failures."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs, urlsplit

import jinja2
import pytest
from starlette.requests import Request

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mail import MAIL_KINDS, AccountMailer, MailDeliveryError, MailTemplates, OutboxMailer


@dataclass
class FakeUser:
    """A user object: the mailer needs only the protocol's attributes."""

    email: str = "king.arthur@camelot.bt"
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    hashed_password: str = "x"
    is_active: bool = True
    is_superuser: bool = False
    is_verified: bool = False


class FailingMailer:
    """A backend whose server is down."""

    async def send(self, message: EmailMessage) -> None:
        """Always fail."""
        raise MailDeliveryError("server down")


def make_mailer(outbox: OutboxMailer, **kwargs: object) -> AccountMailer:
    """An AccountMailer with both links configured."""
    options: dict[str, object] = {
        "sender": "Camelot <no-reply@camelot.bt>",
        "verify_url": "https://app.camelot.bt/verify?token={token}",
        "reset_url": "https://app.camelot.bt/reset?token={token}",
        "app_name": "Camelot",
        **kwargs,
    }
    return AccountMailer(outbox, **options)  # type: ignore[arg-type]  # options typed loosely for brevity


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return cast(str, cast(EmailMessage, part).get_content())


def _html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return cast(str, cast(EmailMessage, part).get_content())


async def test_reset_mail_carries_the_token_in_a_link_in_both_bodies() -> None:
    """The reset e-mail links to reset_url with the URL-encoded token, in text and HTML."""
    outbox = OutboxMailer()
    mailer = make_mailer(outbox)
    token = "abc.def+ghi/="

    delivered = await mailer.send_password_reset(FakeUser(), token)

    assert delivered
    (message,) = outbox.messages
    assert message["To"] == "king.arthur@camelot.bt"
    assert message["From"] == "Camelot <no-reply@camelot.bt>"
    assert message["Subject"] == "Reset your Camelot password"
    assert message["Auto-Submitted"] == "auto-generated"
    link = "https://app.camelot.bt/reset?token=abc.def%2Bghi%2F%3D"
    assert link in _text(message)
    assert link in _html(message)
    assert parse_qs(urlsplit(link).query)["token"] == [token]


async def test_verification_mail_links_to_verify_url() -> None:
    """The verification e-mail links to verify_url and states the lifetime."""
    outbox = OutboxMailer()

    await make_mailer(outbox, verify_lifetime_seconds=7200).send_verification(FakeUser(), "tok")

    text = _text(outbox.messages[0])
    assert "https://app.camelot.bt/verify?token=tok" in text
    assert "120 minutes" in text


async def test_a_kind_without_url_sends_nothing() -> None:
    """Without verify_url or reset_url, that e-mail is not sent."""
    outbox = OutboxMailer()
    mailer = AccountMailer(outbox, sender="no-reply@camelot.bt")

    sent = [await mailer.send_verification(FakeUser(), "t"), await mailer.send_password_reset(FakeUser(), "t")]

    assert sent == [False, False]
    assert outbox.messages == []


async def test_password_changed_notice_is_on_by_default_and_can_be_turned_off() -> None:
    """The "password changed" notice is sent unless notify_password_changed is off."""
    outbox = OutboxMailer()

    await make_mailer(outbox).send_password_changed(FakeUser())
    await make_mailer(outbox, notify_password_changed=False).send_password_changed(FakeUser())

    assert [message["Subject"] for message in outbox.messages] == ["Your Camelot password was changed"]


async def test_new_login_notice_is_opt_in_and_escapes_the_user_agent() -> None:
    """The new-login notice is off by default; when on, it names IP and User-Agent, HTML-escaped."""
    outbox = OutboxMailer()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/auth/jwt/login",
        "headers": [(b"user-agent", b"<script>alert(1)</script>")],
        "client": ("203.0.113.7", 4242),
    }
    request = Request(scope)

    await make_mailer(outbox).send_new_login(FakeUser(), request)
    await make_mailer(outbox, notify_new_login=True).send_new_login(FakeUser(), request)

    (message,) = outbox.messages
    assert "203.0.113.7" in _text(message)
    assert "&lt;script&gt;" in _html(message)
    assert "<script>" not in _html(message)


async def test_new_login_notice_without_request_omits_client_details() -> None:
    """A login without a request still sends the notice, without address lines."""
    outbox = OutboxMailer()

    await make_mailer(outbox, notify_new_login=True).send_new_login(FakeUser())

    assert "From address" not in _text(outbox.messages[0])


async def test_delivery_failure_is_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    """A failing backend is logged with the user id, never the link, and does not raise."""
    user = FakeUser()
    mailer = AccountMailer(FailingMailer(), sender="no-reply@camelot.bt", reset_url="https://a.example/r?t={token}")

    with caplog.at_level(logging.ERROR, logger="fastapi_userkit.mail"):
        delivered = await mailer.send_password_reset(user, "secret-token-value")

    assert not delivered
    assert str(user.id) in caplog.text
    assert "secret-token-value" not in caplog.text


async def test_raise_errors_propagates_delivery_failures() -> None:
    """With raise_errors, MailDeliveryError reaches the caller."""
    mailer = AccountMailer(
        FailingMailer(), sender="no-reply@camelot.bt", reset_url="https://a.example/r?t={token}", raise_errors=True
    )

    with pytest.raises(MailDeliveryError):
        await mailer.send_password_reset(FakeUser(), "t")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reset_url": "https://a.example/reset"}, "exactly once"),
        ({"reset_url": "https://a.example/{token}/{token}"}, "exactly once"),
        ({"reset_url": "https://a.example/{user}?t={token}"}, "exactly once"),
        ({"reset_url": "https://a.example/{token"}, "not a valid URL template"),
        ({"verify_url": "/verify?token={token}"}, "absolute http"),
        ({"verify_url": "javascript:alert({token})"}, "absolute http"),
        ({"sender": "not an address"}, "sender"),
        ({"sender": "a@b.example, c@d.example"}, "exactly one"),
        ({"mailer": object()}, "async send"),
    ],
)
def test_misconfiguration_fails_at_construction(kwargs: dict[str, object], match: str) -> None:
    """Bad URL templates, senders and backends are refused when the mailer is built."""
    options: dict[str, object] = {"mailer": OutboxMailer(), "sender": "no-reply@camelot.bt", **kwargs}
    mailer = options.pop("mailer")

    with pytest.raises(ConfigurationError, match=match):
        AccountMailer(mailer, **options)  # type: ignore[arg-type]  # deliberately wrong values


def test_every_builtin_template_renders() -> None:
    """Each kind renders a one-line subject, a text body and an HTML document."""
    templates = MailTemplates()
    context = {
        "app_name": "Camelot",
        "email": "a@camelot.bt",
        "user": FakeUser(),
        "link": "https://x.example/?t=1",
        "lifetime_minutes": 60,
        "ip_address": None,
        "user_agent": None,
        "when": datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
    }

    rendered = [templates.render(kind, context) for kind in MAIL_KINDS]

    assert all(r.subject and "\n" not in r.subject for r in rendered)
    assert all(r.html.lstrip().startswith("<!DOCTYPE html>") for r in rendered)
    assert all("Camelot" in r.text for r in rendered)


async def test_search_path_overrides_one_template_and_keeps_the_others(tmp_path: Path) -> None:
    """A file in the search path replaces the built-in one of the same path only."""
    (tmp_path / "reset_password").mkdir()
    (tmp_path / "reset_password" / "subject.txt").write_text("{{ app_name }}: new password\n")
    outbox = OutboxMailer()
    mailer = make_mailer(outbox, templates=MailTemplates([tmp_path], extra_context={"support": "help@x"}))

    await mailer.send_password_reset(FakeUser(), "t")

    assert outbox.messages[0]["Subject"] == "Camelot: new password"
    assert "https://app.camelot.bt/reset?token=t" in _text(outbox.messages[0])


async def test_an_override_with_an_undefined_variable_fails_loudly(tmp_path: Path) -> None:
    """StrictUndefined: a typo in an override raises instead of sending a blank link."""
    (tmp_path / "verify").mkdir()
    (tmp_path / "verify" / "body.txt").write_text("{{ lnik }}")
    mailer = make_mailer(OutboxMailer(), templates=MailTemplates([tmp_path]))

    with pytest.raises(jinja2.UndefinedError):
        await mailer.send_verification(FakeUser(), "t")


def test_missing_search_path_folder_is_a_configuration_error(tmp_path: Path) -> None:
    """A search-path entry that is not a folder is refused at construction."""
    with pytest.raises(ConfigurationError, match="does not exist"):
        MailTemplates([tmp_path / "missing"])
