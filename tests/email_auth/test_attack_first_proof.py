"""Attacks on the first e-mail sign-in of a never-verified account (pre-registration takeover, issue 20).

Someone signs up with an address they do not own (a passkey sign-up, or a password registration
followed by adding a passkey) and waits. The owner's first e-mail sign-in proves the address:
whatever the registrant set up to sign in must stop working, the registrant's passkeys included,
or the registrant keeps a way into an account that is now verified and used by its owner.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import Depends

from fastapi_userkit import BaseUserManager
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.email_auth import EmailAuthMailer, EmailSignInService, SQLAlchemyEmailSignInStore
from fastapi_userkit.passkeys import PasskeyService, PasskeySettings
from fastapi_userkit.router.email_login import get_email_login_router
from fastapi_userkit.testing import Outbox
from tests.app_factory import TestApp
from tests.conftest import SessionMaker
from tests.email_auth.conftest import Clock, Log, RecordingManager, SignInClient, code_of
from tests.email_auth.test_sign_in_http import OWNER, SQUATTER_PASSWORD, _mount
from tests.mfa.http_support import clear_rate_limits
from tests.models import EmailSignIn, OAuthAccount, User
from tests.passkeys.account_support import account_app, passkey_login, register, signup, token_of
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN, RP_ID, challenge_store, credential_store
from tests.router.helpers import client_for


def _mount_with_passkeys(test_app: TestApp, client: SignInClient) -> None:
    """The e-mail sign-in routes with the passkey service given to the service itself (the manager has none)."""
    get_user_manager = test_app.fastapi_users.get_user_manager

    async def get_email_sign_in(
        user_manager: BaseUserManager[User, uuid.UUID] = Depends(get_user_manager),  # noqa: B008 - a local dependency
    ) -> AsyncIterator[EmailSignInService[User, uuid.UUID]]:
        user_manager.passkeys = None
        credentials, challenges = credential_store(test_app.session_maker), challenge_store(test_app.session_maker)
        passkeys = PasskeyService(
            PasskeySettings(rp_id=RP_ID, rp_name="Camelot", origins=(ORIGIN,)), credentials, challenges
        )
        async with test_app.session_maker() as session:
            store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
            yield EmailSignInService(
                store, user_manager, client.settings, client.mailer, clock=client.clock, passkeys=passkeys
            )
        await credentials.session.close()
        await challenges.session.close()

    for name, backend in test_app.backends.items():
        test_app.app.include_router(
            get_email_login_router(backend, get_user_manager, get_email_sign_in), prefix=f"/auth/{name}"
        )


@pytest.mark.parametrize(
    ("way", "wiring"),
    [("passkey_signup", "manager"), ("password_then_passkey", "manager"), ("passkey_signup", "service")],
)
async def test_the_owner_s_first_e_mail_sign_in_removes_the_registrant_s_passkeys(
    http_db: SessionMaker, log: Log, mailer: EmailAuthMailer, outbox: Outbox, way: str, wiring: str
) -> None:
    """The squatter's passkey signs nobody in once the owner has proved the address by e-mail.

    The passkeys are found through the user manager's ``passkeys`` or the service's own.
    """
    await clear_rate_limits(http_db)
    account = account_app(http_db)
    test_app = account.test_app
    sign_in_client = SignInClient(http_db, log, mailer, Clock.now_real())
    if wiring == "manager":
        _mount(test_app, sign_in_client)
    else:
        _mount_with_passkeys(test_app, sign_in_client)
    squatter = SoftAuthenticator(ORIGIN)

    async with client_for(test_app.app) as http:
        if way == "passkey_signup":
            assert (await signup(http, squatter, OWNER)).status_code == 200
        else:
            registered = await http.post("/auth/register", json={"email": OWNER, "password": SQUATTER_PASSWORD})
            assert registered.status_code == 201, registered.text
            form = {"username": OWNER, "password": SQUATTER_PASSWORD}
            headers = token_of(await http.post("/auth/jwt/login", data=form))
            assert (await register(http, squatter, headers)).status_code == 201
        assert (await passkey_login(http, squatter)).status_code == 200

        await http.post("/auth/jwt/email-login", json={"email": OWNER})
        owner = await http.post("/auth/jwt/email-login/code", json={"email": OWNER, "code": code_of(outbox.last())})
        squatter_again = await passkey_login(http, squatter)

    assert owner.status_code == 200, owner.text
    assert squatter_again.status_code == 400, squatter_again.text


async def test_the_owner_s_first_e_mail_sign_in_unlinks_the_registrant_s_oauth_accounts(
    db: SessionMaker, log: Log, mailer: EmailAuthMailer, outbox: Outbox
) -> None:
    """An OAuth account linked to a never-verified account (the registrant's) no longer signs in to it."""
    async with db() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        squatted = await user_db.create({"email": OWNER, "hashed_password": "x"})
        account = {"oauth_name": "google", "access_token": "t", "account_id": "mordred", "account_email": OWNER}
        await user_db.add_oauth_account(squatted, account)
    clock = Clock()

    async def sign_in_by_code() -> bool:
        async with db() as session:
            manager = RecordingManager(SQLAlchemyUserDatabase(session, User, OAuthAccount), log)
            settings = SignInClient(db, log, mailer, clock).settings
            service = EmailSignInService(
                SQLAlchemyEmailSignInStore(session, EmailSignIn), manager, settings, mailer, clock=clock
            )
            await service.request(OWNER)
            result = await service.complete_by_code(OWNER, code_of(outbox.last()))
            return result.password_cleared

    assert await sign_in_by_code()
    async with db() as session:
        linked = await SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount).get_by_oauth_account(
            "google", "mordred"
        )
    assert linked is None
