"""The user manager, the JWT backends (bearer and cookie) and the FastAPIUsers object.

The demo's mailer prints the account e-mails (verification and reset links, sign-in links and
codes, e-mail change confirmations and notices) to the console.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from urllib.parse import urlsplit

from fastapi import Depends, Request

from demo.db import (
    EmailChange,
    EmailSignIn,
    MFAChallenge,
    Passkey,
    PasskeyChallenge,
    RecoveryCode,
    RefreshToken,
    TOTPFactor,
    User,
    UserSession,
    async_session_maker,
    get_user_db,
)
from fastapi_userkit import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, CookieTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db.sessions import SQLAlchemySessionStore
from fastapi_userkit.email_auth import (
    EmailAuthMailer,
    EmailChangeService,
    EmailChangeSettings,
    EmailSignInService,
    EmailSignInSettings,
    SQLAlchemyEmailChangeStore,
    SQLAlchemyEmailSignInStore,
)
from fastapi_userkit.mail import AccountMailer, ConsoleMailer
from fastapi_userkit.mfa import MFA, ChallengeStore, MFAStore, SQLAlchemyChallengeStore, SQLAlchemyMFAStore
from fastapi_userkit.passkeys import (
    PasskeyService,
    PasskeySettings,
    SQLAlchemyPasskeyChallengeStore,
    SQLAlchemyPasskeyStore,
)
from fastapi_userkit.sessions import RefreshSettings

logger = logging.getLogger("demo")

SECRET = os.environ.get("USERKIT_DEMO_SECRET", "demo-secret-change-me-in-production-0123456789")
# Where the browser reaches the demo: the e-mailed links point there. localhost rather than
# 127.0.0.1: passkeys need a domain (see PASSKEY_ORIGIN below), and the links then open in the
# browser that holds the demo's cookies.
BASE_URL = os.environ.get("USERKIT_DEMO_BASE_URL", "http://localhost:8000").rstrip("/")

account_mailer = AccountMailer(
    ConsoleMailer(),
    sender="fastapi-userkit demo <no-reply@example.com>",
    verify_url=f"{BASE_URL}/account/verify?token={{token}}",
    reset_url=f"{BASE_URL}/account/reset-password?token={{token}}",
    app_name="fastapi-userkit demo",
)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET
    mailer = account_mailer

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.warning("User %s has registered.", user.id)


bearer_transport = BearerTransport(tokenUrl="auth/jwt/login")


def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


auth_backend = AuthenticationBackend(
    name="jwt",
    transport=bearer_transport,
    get_strategy=get_jwt_strategy,
)

# The account pages sign users in with a cookie; Secure only when the demo is served over HTTPS.
# Refresh on: each sign-in is a session that "Sign out" ends, with every cookie issued for it.
cookie_backend = AuthenticationBackend(
    name="cookie",
    transport=CookieTransport(cookie_max_age=3600, cookie_secure=BASE_URL.startswith("https://")),
    get_strategy=get_jwt_strategy,
    refresh=RefreshSettings(
        store=SQLAlchemySessionStore(async_session_maker, UserSession, RefreshToken), secret=SECRET
    ),
)


async def get_mfa_store() -> AsyncIterator[MFAStore]:
    async with async_session_maker() as session:
        yield SQLAlchemyMFAStore(session, TOTPFactor, RecoveryCode)


async def get_challenge_store() -> AsyncIterator[ChallengeStore]:
    async with async_session_maker() as session:
        yield SQLAlchemyChallengeStore(session, MFAChallenge)


# Two-factor sign-in (TOTP and recovery codes): the account page's "Set up two-factor sign-in".
# The key encrypts the TOTP secrets at rest; list a new one first to rotate.
mfa = MFA(
    secrets=[os.environ.get("USERKIT_DEMO_MFA_KEY", "demo-mfa-key-change-me-in-production-0123456789")],
    get_store=get_mfa_store,
    get_challenge_store=get_challenge_store,
    issuer="fastapi-userkit demo",
    # How recent a two-factor sign-in must be for a sensitive change (the browser test shortens it).
    step_up_within=int(os.environ.get("USERKIT_DEMO_STEP_UP_WITHIN", "300")),
)


def passkey_origin(base_url: str) -> str:
    """The origin passkeys run on: ``base_url``'s, with ``localhost`` for an IP address.

    WebAuthn's relying-party id is a domain (an IP address is not one: browsers refuse it), so a
    demo served on http://127.0.0.1:8000 offers passkeys on http://localhost:8000 (the same
    server; browsers treat localhost as a secure context, so plain http works there).
    """
    parts = urlsplit(base_url)
    host = parts.hostname or "localhost"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        host = "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


PASSKEY_ORIGIN = passkey_origin(BASE_URL)

# Passkeys (WebAuthn): "Sign in with a passkey" and the account page's passkeys section.
passkey_settings = PasskeySettings(
    rp_id=urlsplit(PASSKEY_ORIGIN).hostname or "localhost",
    rp_name="fastapi-userkit demo",
    origins=[PASSKEY_ORIGIN],
)


async def get_passkey_service() -> AsyncIterator[PasskeyService]:
    async with async_session_maker() as credentials, async_session_maker() as challenges:
        yield PasskeyService(
            passkey_settings,
            SQLAlchemyPasskeyStore(credentials, Passkey),
            SQLAlchemyPasskeyChallengeStore(challenges, PasskeyChallenge),
        )


async def get_user_manager(
    user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = Depends(get_user_db),
    passkeys: PasskeyService = Depends(get_passkey_service),
    second_factors: MFAStore = Depends(get_mfa_store),
) -> AsyncGenerator[UserManager, None]:
    # The passkeys and the two-factor store: the first proof of a never-verified address (the
    # first e-mail sign-in, or a password reset) removes those of whoever registered it unproved.
    user_manager = UserManager(user_db)
    user_manager.passkeys = passkeys
    user_manager.second_factors = second_factors
    yield user_manager


fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend, cookie_backend], mfa=mfa)

current_active_user = fastapi_users.current_user(active=True)

# Sign-in by e-mail (a link and a code) and the confirmed e-mail change, offered by the account
# pages at /account: their links open the pages' /email-login/verify, /email/confirm and
# /email/revert. The e-mails go through the account mailer (the console).
email_mailer = EmailAuthMailer(account_mailer)
email_sign_in_settings = EmailSignInSettings(secret=SECRET, pages_url=f"{BASE_URL}/account", enabled=True)
email_change_settings = EmailChangeSettings(secret=SECRET, pages_url=f"{BASE_URL}/account")


async def get_email_sign_in(
    user_manager: UserManager = Depends(get_user_manager),
) -> AsyncIterator[EmailSignInService[User, uuid.UUID]]:
    # The manager's passkeys and two-factor store: an address's first e-mail sign-in removes
    # those of whoever registered it unproved.
    async with async_session_maker() as session:
        store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
        yield EmailSignInService(store, user_manager, email_sign_in_settings, email_mailer)


async def get_email_change(
    user_manager: UserManager = Depends(get_user_manager),
) -> AsyncIterator[EmailChangeService[User, uuid.UUID]]:
    async with async_session_maker() as session:
        store = SQLAlchemyEmailChangeStore(session, EmailChange)
        yield EmailChangeService(store, user_manager, email_change_settings, email_mailer)
