"""The pages' test app with e-mail sign-in and the confirmed e-mail change on, and what their e-mails carry."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Depends

from fastapi_userkit import BaseUserManager
from fastapi_userkit.email_auth import (
    EmailAuthMailer,
    EmailChangeService,
    EmailChangeSettings,
    EmailSignInService,
    EmailSignInSettings,
    SQLAlchemyEmailChangeStore,
    SQLAlchemyEmailSignInStore,
)
from fastapi_userkit.mail import AccountMailer
from fastapi_userkit.testing import CapturedEmail, Outbox
from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker
from tests.email_auth.conftest import Clock
from tests.models import EmailChange, EmailSignIn, User
from tests.pages.support import mount_pages, pages_backends

KEY = "k" * 32
PAGES_URL = "http://test/account"
_CODE = re.compile(r"enter this code in the app:\s+(?P<code>\S+)")
_LINK_TOKEN = re.compile(r'name="token" value="([^"]*)"')

__all__ = [
    "PAGES_URL",
    "EmailPagesApp",
    "code_in",
    "email_pages_app",
    "hidden_token",
    "link_path",
]


@dataclass
class EmailPagesApp:
    """The app, its outbox and the clock of its e-mail services."""

    test_app: TestApp
    outbox: Outbox
    clock: Clock

    def last(self, to: str) -> CapturedEmail:
        """The latest e-mail to ``to``."""
        return self.outbox.last(to)


def email_pages_app(
    session_maker: SessionMaker,
    *,
    sign_in: bool = True,
    change: bool = True,
    allow_sign_up: bool = False,
    app_options: dict[str, Any] | None = None,
    **options: Any,
) -> EmailPagesApp:
    """The documented test app with the pages at ``/account``, e-mail sign-in and change on (by default)."""
    outbox = Outbox()
    clock = Clock.now_real()
    mailer = EmailAuthMailer(AccountMailer(outbox.mailer, sender="Camelot <noreply@camelot.bt>", app_name="Camelot"))
    test_app = make_app(session_maker, **{"backends_factory": pages_backends(session_maker), **(app_options or {})})
    get_user_manager = test_app.fastapi_users.get_user_manager
    sign_in_settings = EmailSignInSettings(secret=KEY, pages_url=PAGES_URL, enabled=True, allow_sign_up=allow_sign_up)
    change_settings = EmailChangeSettings(secret=KEY, pages_url=PAGES_URL)

    async def get_email_sign_in(
        user_manager: BaseUserManager[User, uuid.UUID] = Depends(get_user_manager),  # noqa: B008 - FastAPI's style
    ) -> AsyncIterator[EmailSignInService[User, uuid.UUID]]:
        async with session_maker() as session:
            store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
            yield EmailSignInService(store, user_manager, sign_in_settings, mailer, clock=clock)

    async def get_email_change(
        user_manager: BaseUserManager[User, uuid.UUID] = Depends(get_user_manager),  # noqa: B008 - as above
    ) -> AsyncIterator[EmailChangeService[User, uuid.UUID]]:
        async with session_maker() as session:
            store = SQLAlchemyEmailChangeStore(session, EmailChange)
            yield EmailChangeService(store, user_manager, change_settings, mailer, clock=clock)

    if sign_in:
        options["email_sign_in"] = get_email_sign_in
    if change:
        options["email_change"] = get_email_change
    mount_pages(test_app, **options)
    return EmailPagesApp(test_app, outbox, clock)


def link_path(message: CapturedEmail, path: str) -> str:
    """The path and query of the link to ``/account{path}`` in ``message`` (as the browser opens it)."""
    prefix = f"{PAGES_URL}{path}?token="
    for link in message.links:
        if link.startswith(prefix):
            return link.removeprefix("http://test")
    raise AssertionError(f"no {prefix} link in {message.links}")


def code_in(message: CapturedEmail) -> str:
    """The sign-in code in a sign-in e-mail's text."""
    found = _CODE.search(message.text)
    assert found is not None, message.text
    return found["code"]


def hidden_token(page: httpx.Response) -> str:
    """The token a link's page put in its form's hidden field."""
    match = _LINK_TOKEN.search(page.text)
    assert match is not None, page.text
    return html.unescape(match.group(1))
