"""The documented app with every passkey route (sign-up, second step, step-up, password), and its HTTP steps."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.mail import AccountMailer, OutboxMailer
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.passkeys import PasskeyService, PasskeySettings
from fastapi_userkit.security.events import SECURITY_LOGGER_NAME
from fastapi_userkit.security.settings import SecuritySettings
from tests.app_factory import TestApp, UserCreate, fast_password_helper, make_app, make_user_manager_class
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock as MFAClock
from tests.mfa.http_support import mfa_app
from tests.models import OAuthAccount, User
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN, RP_ID, challenge_store, credential_store

EMAIL = "user@example.com"
NEW_EMAIL = "merlin@camelot.bt"


@dataclass
class OffsetClock:
    """The authenticator's clock: the real time moved forward by ``offset`` (ages a sign-in without sleeping)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return now_utc() + self.offset


@dataclass
class AccountApp:
    """The app, its mail outbox and the clock its freshness checks read."""

    test_app: TestApp
    outbox: OutboxMailer
    clock: OffsetClock


def account_app(
    session_maker: SessionMaker,
    *,
    mfa_clock: MFAClock | None = None,
    security: SecuritySettings | None = None,
    user_verification: str = "required",
    signup: bool = True,
    requires_verification: bool = False,
) -> AccountApp:
    """The documented app with ``FastAPIUsers.get_passkeys_router(..., signup_schema=UserCreate)`` on both backends.

    The manager mails through an outbox and counts passkeys for OAuth unlinks; with ``mfa_clock``
    two-factor login is on.
    """
    if mfa_clock is not None:
        test_app = mfa_app(session_maker, mfa_clock, security=security)
    else:
        test_app = make_app(session_maker, security=security, requires_verification=requires_verification)
    settings = PasskeySettings(
        rp_id=RP_ID,
        rp_name="Camelot",
        origins=(ORIGIN,),
        user_verification=user_verification,  # type: ignore[arg-type]
    )

    async def get_passkey_service() -> AsyncIterator[PasskeyService]:
        credentials, challenges = credential_store(session_maker), challenge_store(session_maker)
        yield PasskeyService(settings, credentials, challenges)
        await credentials.session.close()
        await challenges.session.close()

    outbox = OutboxMailer()
    manager_class = make_user_manager_class(test_app.hooks)

    async def get_manager() -> AsyncIterator[BaseUserManager[User, uuid.UUID]]:
        async with session_maker() as session:
            user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
            mailer = AccountMailer(outbox, sender="no-reply@camelot.bt", app_name="Camelot")
            manager = manager_class(user_db, fast_password_helper(), mailer=mailer)
            passkeys = PasskeyService(settings, credential_store(session_maker), challenge_store(session_maker))
            manager.passkeys = passkeys
            yield manager
            await passkeys.credentials.session.close()  # type: ignore[attr-defined]
            await passkeys.challenges.session.close()  # type: ignore[attr-defined]

    users = test_app.fastapi_users
    test_app.app.dependency_overrides[users.get_user_manager] = get_manager
    clock = OffsetClock()
    users.authenticator.clock = clock
    for name, backend in test_app.backends.items():
        router = users.get_passkeys_router(
            backend,
            get_passkey_service,
            signup_schema=UserCreate if signup else None,
            requires_verification=requires_verification,
        )
        test_app.app.include_router(router, prefix=f"/auth/{name}")
    strong = users.authenticator.current_user(active=True, aal=2)

    @test_app.app.get("/aal2")
    async def aal2(user: User = Depends(strong)) -> dict[str, str]:  # noqa: B008 - FastAPI's documented style
        return {"id": str(user.id)}

    return AccountApp(test_app, outbox, clock)


async def signup(
    client: httpx.AsyncClient,
    authenticator: SoftAuthenticator,
    email: str = NEW_EMAIL,
    *,
    backend: str = "jwt",
    **fields: Any,
) -> httpx.Response:
    """Sign up with a passkey of ``authenticator``; the backend's login answer (or the refusal)."""
    options = await client.post(f"/auth/{backend}/passkeys/signup/options", json={"email": email, **fields})
    if options.status_code != 200:
        return options
    credential = authenticator.create(options.json())
    return await client.post(f"/auth/{backend}/passkeys/signup", json={"credential": credential, "name": "Phone"})


async def passkey_login(client: httpx.AsyncClient, authenticator: SoftAuthenticator, **kw: Any) -> httpx.Response:
    """A usernameless passkey sign-in on the bearer backend."""
    options = await client.post("/auth/jwt/passkeys/login/options")
    assert options.status_code == 200, options.text
    return await client.post("/auth/jwt/passkeys/login", json={"credential": authenticator.get(options.json(), **kw)})


async def register(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, headers: dict[str, str], name: str = "Laptop"
) -> httpx.Response:
    """Add a passkey of ``authenticator`` to the signed-in user."""
    options = await client.post("/auth/jwt/passkeys/register/options", headers=headers)
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json())
    return await client.post(
        "/auth/jwt/passkeys/register", json={"credential": credential, "name": name}, headers=headers
    )


def token_of(response: httpx.Response) -> dict[str, str]:
    """The bearer header of a bearer login answer."""
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def security_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The security events logged so far (set the level first: ``caplog.set_level(INFO, SECURITY_LOGGER_NAME)``)."""
    return [record.__dict__["security_event"] for record in caplog.records if "security_event" in record.__dict__]


def capture_events(caplog: pytest.LogCaptureFixture) -> None:
    """Capture the security logger at INFO."""
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER_NAME)
