"""The confirmed e-mail change over HTTP (T40, T35), on SQLite, PostgreSQL and MariaDB with the outbox mailer.

The documented app (``make_app``) with a plain JWT backend and a database-token backend, the
routes of ``FastAPIUsers.get_email_change_router`` under ``/users``, and, for the opt-in, a
``PATCH /users/me`` built with ``get_users_router(..., email_change=...)``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_userkit import BaseUserManager
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.authentication.assurance import Assurance
from fastapi_userkit.authentication.strategy.db import DatabaseStrategy
from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase
from fastapi_userkit.db.revoked_token import SQLAlchemyRevokedTokenDatabase
from fastapi_userkit.email_auth import EmailAuthMailer, EmailChangeService, SQLAlchemyEmailChangeStore
from fastapi_userkit.mfa import MFA
from fastapi_userkit.testing import Outbox
from tests.app_factory import SECRET, TestApp, UserRead, UserUpdate, make_app
from tests.conftest import SessionMaker
from tests.email_auth.conftest import CONFIRM_URL, REVERT_URL, ChangeClient, Clock, Log, link_token
from tests.mfa.conftest import Clock as MFAClock
from tests.mfa.http_support import clear_rate_limits, enrol, sql_mfa
from tests.models import AccessToken, EmailChange, RevokedToken, User
from tests.router.helpers import PASSWORD, bearer, create_user

OLD = "arthur@camelot.bt"
NEW = "arthur@avalon.bt"
STEP_UP = 'error="insufficient_user_authentication"'


def _backends(get_session: Any) -> dict[str, AuthenticationBackend[User, uuid.UUID]]:
    """A plain JWT backend, and a database-token and a revocable JWT backend (whose tokens a revert can end)."""

    def get_jwt() -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, 3600)

    def get_db(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
    ) -> DatabaseStrategy[Any, Any, Any]:
        return DatabaseStrategy(SQLAlchemyAccessTokenDatabase(session, AccessToken), 3600)

    def get_revocable(
        session: AsyncSession = Depends(get_session),  # noqa: B008 - FastAPI's documented style
    ) -> JWTStrategy[User, uuid.UUID]:
        return JWTStrategy(SECRET, 3600, revoked_tokens=SQLAlchemyRevokedTokenDatabase(session, RevokedToken))

    return {
        "jwt": AuthenticationBackend("jwt", BearerTransport("auth/jwt/login"), get_jwt),
        "db": AuthenticationBackend("db", BearerTransport("auth/db/login"), get_db),
        "revocable": AuthenticationBackend("revocable", BearerTransport("auth/revocable/login"), get_revocable),
    }


@dataclass
class Site:
    """The app, its HTTP client, the outbox and the e-mail change service's clock."""

    test_app: TestApp
    http: httpx.AsyncClient
    outbox: Outbox
    clock: Clock

    async def login(self, email: str = OLD, backend: str = "jwt", password: str = PASSWORD) -> httpx.Response:
        """``POST /auth/{backend}/login``."""
        return await self.http.post(f"/auth/{backend}/login", data={"username": email, "password": password})

    async def headers(self, email: str = OLD, backend: str = "jwt") -> dict[str, str]:
        """A fresh sign-in's ``Authorization`` header."""
        response = await self.login(email, backend)
        assert response.status_code == 200, response.text
        return bearer(response.json()["access_token"])

    async def stale_headers(self, user: User, age: int = 3600) -> dict[str, str]:
        """A bearer token of a sign-in ``age`` seconds ago (a long-lived or stolen session)."""
        strategy: JWTStrategy[User, object] = JWTStrategy(SECRET, 2 * age)
        backend = self.test_app.backends["jwt"]
        token = await backend.write_token(strategy, user, assurance=Assurance(1, int(time.time()) - age))  # type: ignore[arg-type]
        return bearer(token)

    async def ask(self, headers: dict[str, str], email: str = NEW) -> httpx.Response:
        """``POST /users/me/email-change``."""
        return await self.http.post("/users/me/email-change", json={"email": email}, headers=headers)

    def tokens(self, new: str = NEW, old: str = OLD) -> tuple[str, str]:
        """The confirmation token of the last e-mail to ``new`` and the revert token of the last one to ``old``."""
        return link_token(self.outbox.last(to=new), CONFIRM_URL), link_token(self.outbox.last(to=old), REVERT_URL)

    async def confirm(self, token: str) -> httpx.Response:
        """``POST /users/email-change/confirm``."""
        return await self.http.post("/users/email-change/confirm", json={"token": token})

    async def revert(self, token: str) -> httpx.Response:
        """``POST /users/email-change/revert``."""
        return await self.http.post("/users/email-change/revert", json={"token": token})

    async def me(self, headers: dict[str, str]) -> httpx.Response:
        """``GET /users/me``."""
        return await self.http.get("/users/me", headers=headers)


def build_site(
    db: SessionMaker,
    mailer: EmailAuthMailer,
    outbox: Outbox,
    log: Log,
    *,
    opt_in: bool = False,
    mfa: MFA | None = None,
    requires_verification: bool = False,
) -> tuple[TestApp, Clock]:
    """The documented app with the e-mail change routes (and, with ``opt_in``, the confirmed ``PATCH /users/me``)."""
    clock = Clock.now_real()
    settings = ChangeClient(db, log, mailer, clock).settings
    test_app = make_app(db, backends_factory=_backends, mfa=mfa)
    fastapi_users = test_app.fastapi_users
    get_user_manager = fastapi_users.get_user_manager

    async def get_email_change(
        user_manager: BaseUserManager[User, uuid.UUID] = Depends(get_user_manager),  # noqa: B008 - a local dependency
    ) -> AsyncIterator[EmailChangeService[User, uuid.UUID]]:
        async with db() as session:
            store = SQLAlchemyEmailChangeStore(session, EmailChange)
            yield EmailChangeService(store, user_manager, settings, mailer, clock=clock)

    app = test_app.app
    if opt_in:
        # A second app: the same backends, and PATCH /users/me with the confirmed change turned on.
        app = FastAPI()
        for name, backend in test_app.backends.items():
            app.include_router(fastapi_users.get_auth_router(backend), prefix=f"/auth/{name}")
        users = fastapi_users.get_users_router(UserRead, UserUpdate, email_change=get_email_change)
        app.include_router(users, prefix="/users")
        test_app.app = app
    router = fastapi_users.get_email_change_router(
        UserRead, get_email_change, requires_verification=requires_verification
    )
    app.include_router(router, prefix="/users")
    return test_app, clock


@pytest.fixture
async def site(db: SessionMaker, mailer: EmailAuthMailer, outbox: Outbox, log: Log) -> AsyncIterator[Site]:
    """The app with the e-mail change routes, on every database, with a user at OLD."""
    await clear_rate_limits(db)
    test_app, clock = build_site(db, mailer, outbox, log)
    await create_user(test_app, OLD, is_verified=True)
    transport = httpx.ASGITransport(test_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Site(test_app, http, outbox, clock)


async def test_the_address_changes_when_the_new_address_confirms(site: Site) -> None:
    """Asking answers 202 and changes nothing; the current address still logs in; the link's POST changes it."""
    headers = await site.headers()

    asked = await site.ask(headers)
    pending = await site.http.get("/users/me/email-change", headers=headers)
    still_old = await site.me(headers)
    login_while_pending = await site.login(OLD)
    confirm, _ = site.tokens()
    confirmed = await site.confirm(confirm)
    after = await site.me(headers)
    again = await site.confirm(confirm)
    nothing_pending = await site.http.get("/users/me/email-change", headers=headers)

    assert asked.status_code == 202, asked.text
    assert asked.json()["new_email"] == NEW
    assert pending.json() == asked.json()
    assert still_old.json()["email"] == OLD
    assert login_while_pending.status_code == 200
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["email"], confirmed.json()["is_verified"]) == (NEW, True)
    assert after.json()["email"] == NEW
    assert (again.status_code, again.json()) == (400, {"detail": "EMAIL_LINK_USED"})
    assert nothing_pending.json() is None
    assert (await site.login(NEW)).status_code == 200


async def test_a_get_on_the_links_changes_nothing(site: Site) -> None:
    """A mail scanner's GET on either route is refused and spends nothing (T35); the POSTs still work."""
    await site.ask(await site.headers())
    confirm, revert = site.tokens()

    scanned = [
        await site.http.get("/users/email-change/confirm", params={"token": confirm}),
        await site.http.get("/users/email-change/revert", params={"token": revert}),
    ]
    confirmed = await site.confirm(confirm)
    reverted = await site.revert(revert)

    assert [response.status_code for response in scanned] == [405, 405]
    assert confirmed.status_code == 200
    assert reverted.status_code == 200


async def test_revert_restores_the_address_and_ends_every_session(site: Site) -> None:
    """The old address's link puts it back and ends the sessions: database and revocable JWT tokens answer 401."""
    db_token = await site.headers(backend="db")
    revocable = await site.headers(backend="revocable")
    await site.ask(await site.headers())
    confirm, revert = site.tokens()
    await site.confirm(confirm)
    moved = [await site.me(db_token), await site.me(revocable)]

    reverted = await site.revert(revert)
    after = [await site.me(db_token), await site.me(revocable)]
    twice = await site.revert(revert)

    assert [response.json()["email"] for response in moved] == [NEW, NEW]
    assert reverted.status_code == 200, reverted.text
    assert reverted.json() == {"email": OLD, "restored": True, "address_taken": False, "password_cleared": True}
    assert [response.status_code for response in after] == [401, 401]
    assert (twice.status_code, twice.json()) == (400, {"detail": "EMAIL_LINK_USED"})
    assert (await site.login(OLD, backend="db")).status_code == 400  # the password the intruder knew is gone
    assert (await site.login(NEW)).status_code == 400


async def test_revert_of_a_pending_change_cancels_it_and_ends_sessions(site: Site) -> None:
    """Reverted before the confirmation: nothing to restore, the confirmation link is dead, the sessions end."""
    db_token = await site.headers(backend="db")
    await site.ask(db_token)
    confirm, revert = site.tokens()

    reverted = await site.revert(revert)
    confirmed = await site.confirm(confirm)

    assert reverted.json() == {"email": OLD, "restored": False, "address_taken": False, "password_cleared": True}
    assert (confirmed.status_code, confirmed.json()) == (400, {"detail": "EMAIL_LINK_USED"})
    assert (await site.me(db_token)).status_code == 401


async def test_a_newer_change_kills_the_older_link(site: Site) -> None:
    """Of two pending changes only the newer link confirms; the pending change shown is the newer one."""
    headers = await site.headers()
    await site.ask(headers, "first@avalon.bt")
    first, _ = site.tokens(new="first@avalon.bt")
    await site.ask(headers)
    second, _ = site.tokens()

    pending = await site.http.get("/users/me/email-change", headers=headers)
    older = await site.confirm(first)
    newer = await site.confirm(second)

    assert pending.json()["new_email"] == NEW
    assert (older.status_code, older.json()) == (400, {"detail": "EMAIL_LINK_USED"})
    assert newer.json()["email"] == NEW


async def test_a_taken_address_answers_like_a_free_one_until_the_link(site: Site) -> None:
    """The requester gets the same 202 and both e-mails go out; the link then answers 400 EMAIL_ADDRESS_TAKEN."""
    await create_user(site.test_app, NEW)
    headers = await site.headers()

    free = await site.ask(headers, "free@avalon.bt")
    taken = await site.ask(headers)
    confirm, _ = site.tokens()
    refused = await site.confirm(confirm)

    assert taken.status_code == free.status_code == 202
    assert taken.json().keys() == free.json().keys()
    assert taken.headers.keys() == free.headers.keys()
    assert sorted(message.to for message in site.outbox.messages) == sorted(["free@avalon.bt", NEW, OLD, OLD])
    assert (refused.status_code, refused.json()) == (400, {"detail": "EMAIL_ADDRESS_TAKEN"})
    assert (await site.me(headers)).json()["email"] == OLD


async def test_the_confirmation_expires_with_the_service_clock(site: Site) -> None:
    """An hour later the confirmation is refused as expired and nothing is pending; the revert link still works."""
    headers = await site.headers()
    await site.ask(headers)
    confirm, revert = site.tokens()
    site.clock.advance(hours=1)

    expired = await site.confirm(confirm)
    pending = await site.http.get("/users/me/email-change", headers=headers)
    reverted = await site.revert(revert)

    assert (expired.status_code, expired.json()) == (400, {"detail": "EMAIL_LINK_EXPIRED"})
    assert pending.json() is None
    assert reverted.status_code == 200


async def test_asking_needs_a_recent_sign_in(site: Site) -> None:
    """An hour-old session gets RFC 9470's 401 with max_age and sends nothing; reading the state needs no freshness."""
    user = await create_user(site.test_app, "lancelot@camelot.bt", is_verified=True)
    stale = await site.stale_headers(user)

    refused = await site.ask(stale)
    state = await site.http.get("/users/me/email-change", headers=stale)
    anonymous = await site.http.post("/users/me/email-change", json={"email": NEW})

    assert refused.status_code == 401
    assert refused.json() == {"detail": "INSUFFICIENT_USER_AUTHENTICATION"}
    assert STEP_UP in refused.headers["www-authenticate"]
    assert 'max_age="300"' in refused.headers["www-authenticate"]
    assert len(site.outbox) == 0
    assert (state.status_code, state.json()) == (200, None)
    assert anonymous.status_code == 401


async def test_cancel_kills_the_confirmation_and_bad_input_is_a_4xx(site: Site) -> None:
    """DELETE cancels (204, twice too); the current address, a look-alike or a bad token are clear 4xx answers."""
    headers = await site.headers()
    await site.ask(headers)
    confirm, _ = site.tokens()

    cancelled = await site.http.delete("/users/me/email-change", headers=headers)
    cancelled_again = await site.http.delete("/users/me/email-change", headers=headers)
    dead = await site.confirm(confirm)
    same = await site.ask(headers, OLD.upper().replace("ARTHUR", "arthur"))
    lookalike = await site.ask(headers, "stra\u00dfe@avalon.bt")
    unknown = await site.confirm("no-such-link")
    too_long = await site.revert("x" * 300)

    assert cancelled.status_code == cancelled_again.status_code == 204
    assert (dead.status_code, dead.json()) == (400, {"detail": "EMAIL_LINK_USED"})
    assert (same.status_code, same.json()) == (400, {"detail": "EMAIL_CHANGE_SAME_ADDRESS"})
    assert lookalike.status_code == 422
    assert "case mapping" in lookalike.text
    assert (unknown.status_code, unknown.json()) == (400, {"detail": "EMAIL_LINK_INVALID"})
    assert too_long.status_code == 422


async def test_patch_users_me_keeps_fastapi_users_behaviour_by_default(site: Site) -> None:
    """Without the opt-in, PATCH /users/me sets the address at once (and unverifies it), as in FastAPI Users."""
    headers = await site.headers()

    patched = await site.http.patch("/users/me", json={"email": NEW}, headers=headers)

    assert patched.status_code == 200, patched.text
    assert (patched.json()["email"], patched.json()["is_verified"]) == (NEW, False)
    assert len(site.outbox) == 0


def test_the_openapi_schema_lists_the_routes_and_their_codes(site: Site) -> None:
    """The routes document their answers from the error table; the links have no GET."""
    paths = site.test_app.app.openapi()["paths"]
    ask = paths["/users/me/email-change"]["post"]["responses"]

    assert "202" in ask
    assert "EMAIL_CHANGE_SAME_ADDRESS" in str(ask["400"])
    assert "INSUFFICIENT_USER_AUTHENTICATION" in str(ask["401"])
    assert "429" in ask
    for route in ("confirm", "revert"):
        responses = str(paths[f"/users/email-change/{route}"]["post"]["responses"]["400"])
        assert all(code in responses for code in ("EMAIL_LINK_USED", "EMAIL_LINK_EXPIRED", "EMAIL_ADDRESS_TAKEN"))
        assert "get" not in paths[f"/users/email-change/{route}"]


@pytest.fixture
async def opt_in(http_db: SessionMaker, mailer: EmailAuthMailer, outbox: Outbox, log: Log) -> AsyncIterator[Site]:
    """The app whose PATCH /users/me starts the confirmed change, on SQLite and PostgreSQL, with a user at OLD."""
    await clear_rate_limits(http_db)
    test_app, clock = build_site(http_db, mailer, outbox, log, opt_in=True)
    await create_user(test_app, OLD, is_verified=True)
    await create_user(test_app, "taken@avalon.bt")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(test_app.app), base_url="http://test") as http:
        yield Site(test_app, http, outbox, clock)


async def test_with_the_opt_in_patch_starts_a_pending_change(opt_in: Site) -> None:
    """PATCH answers 202 with the user as stored; the other fields apply; the new address's link applies the e-mail."""
    headers = await opt_in.headers()

    patched = await opt_in.http.patch("/users/me", json={"email": NEW, "first_name": "Arthur"}, headers=headers)
    confirm, _ = opt_in.tokens()
    confirmed = await opt_in.confirm(confirm)

    assert patched.status_code == 202, patched.text
    assert (patched.json()["email"], patched.json()["first_name"]) == (OLD, "Arthur")
    assert confirmed.json()["email"] == NEW
    assert (await opt_in.me(headers)).json()["first_name"] == "Arthur"


async def test_with_the_opt_in_a_taken_address_and_the_same_address_tell_nothing(opt_in: Site) -> None:
    """A taken address gets the same 202 (not 400 UPDATE_USER_EMAIL_ALREADY_EXISTS); the current one is a plain 200."""
    headers = await opt_in.headers()

    taken = await opt_in.http.patch("/users/me", json={"email": "taken@avalon.bt"}, headers=headers)
    same = await opt_in.http.patch("/users/me", json={"email": OLD.replace("camelot", "CAMELOT")}, headers=headers)
    nothing = await opt_in.http.patch("/users/me", json={"first_name": "Art"}, headers=headers)

    assert taken.status_code == 202, taken.text
    assert taken.json()["email"] == OLD
    assert same.status_code == 200, same.text
    assert same.json()["email"] == OLD
    assert nothing.status_code == 200
    assert sorted(message.to for message in opt_in.outbox.messages) == [OLD, "taken@avalon.bt"]


async def test_with_the_opt_in_an_old_session_cannot_start_a_change(opt_in: Site) -> None:
    """A stolen hour-old session gets RFC 9470's 401 and the account stays where it is; no e-mail goes out."""
    user = await create_user(opt_in.test_app, "lancelot@camelot.bt", is_verified=True)

    refused = await opt_in.http.patch("/users/me", json={"email": NEW}, headers=await opt_in.stale_headers(user))

    assert refused.status_code == 401
    assert STEP_UP in refused.headers["www-authenticate"]
    assert len(opt_in.outbox) == 0
    openapi = opt_in.test_app.app.openapi()["paths"]["/users/me"]["patch"]["responses"]
    assert "202" in openapi
    assert "EMAIL_CHANGE_SAME_ADDRESS" in str(openapi["400"])


async def test_a_user_with_a_second_factor_needs_a_fresh_two_factor_sign_in(
    http_db: SessionMaker, mailer: EmailAuthMailer, outbox: Outbox, log: Log
) -> None:
    """With FastAPIUsers(mfa=...), a one-factor token of a user with TOTP is refused with acr_values; no factor: 202."""
    await clear_rate_limits(http_db)
    mfa_clock = MFAClock(datetime.now(UTC))
    test_app, _ = build_site(http_db, mailer, outbox, log, mfa=sql_mfa(http_db, mfa_clock))
    user = await create_user(test_app, OLD, is_verified=True)
    await create_user(test_app, "percival@camelot.bt", is_verified=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(test_app.app), base_url="http://test") as http:
        site = Site(test_app, http, outbox, Clock.now_real())
        await enrol(http, mfa_clock, await site.headers())
        refused = await site.ask(await site.stale_headers(user, age=60))
        without_factor = await site.ask(await site.headers("percival@camelot.bt"), "percival@avalon.bt")

    assert refused.status_code == 401
    assert 'acr_values="aal2"' in refused.headers["www-authenticate"]
    assert without_factor.status_code == 202, without_factor.text


async def test_with_requires_verification_an_unverified_user_cannot_ask(
    http_db: SessionMaker, mailer: EmailAuthMailer, outbox: Outbox, log: Log
) -> None:
    """requires_verification=True: an unverified user's requests answer 403, and the schema lists it; the links work."""
    await clear_rate_limits(http_db)
    test_app, clock = build_site(http_db, mailer, outbox, log, requires_verification=True)
    await create_user(test_app, OLD, is_verified=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(test_app.app), base_url="http://test") as http:
        site = Site(test_app, http, outbox, clock)
        headers = await site.headers()
        refused = [
            await site.ask(headers),
            await http.get("/users/me/email-change", headers=headers),
            await http.delete("/users/me/email-change", headers=headers),
        ]

    assert [response.status_code for response in refused] == [403, 403, 403]
    assert len(outbox) == 0
    assert "403" in test_app.app.openapi()["paths"]["/users/me/email-change"]["post"]["responses"]
