"""The passkey JSON routes over HTTP (SQLite and PostgreSQL): register, manage, usernameless sign-in, refusals."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Depends
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from fastapi_userkit.passkeys import PasskeyService, PasskeySettings
from fastapi_userkit.router.passkeys import get_passkeys_router
from fastapi_userkit.security.events import SECURITY_LOGGER_NAME
from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker
from tests.models import User
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.conftest import ORIGIN, RP_ID, challenge_store, credential_store
from tests.router.helpers import PASSWORD, bearer, client_for, create_user, login


def passkey_app(session_maker: SessionMaker, *, fresh_within: int | None = None, **kwargs: Any) -> TestApp:
    """The documented app with the passkey routes on both backends (``/auth/jwt`` and ``/auth/cookie``)."""
    test_app = make_app(session_maker, **kwargs)
    settings = PasskeySettings(rp_id=RP_ID, rp_name="Camelot", origins=(ORIGIN,))

    async def get_passkey_service() -> AsyncIterator[PasskeyService]:
        credentials, challenges = credential_store(session_maker), challenge_store(session_maker)
        yield PasskeyService(settings, credentials, challenges)
        await credentials.session.close()
        await challenges.session.close()

    users = test_app.fastapi_users
    for name, backend in test_app.backends.items():
        router = get_passkeys_router(
            users.get_user_manager,
            users.authenticator,
            backend,
            get_passkey_service,
            fresh_within=fresh_within,
            requires_verification=kwargs.get("requires_verification", False),
        )
        test_app.app.include_router(router, prefix=f"/auth/{name}")
    strong = users.authenticator.current_user(active=True, aal=2)

    @test_app.app.get("/aal2")
    async def aal2(user: User = Depends(strong)) -> dict[str, str]:  # noqa: B008 - FastAPI's documented style
        return {"id": str(user.id)}

    return test_app


@dataclass
class Signed:
    """A client with a signed-in user and their authenticator."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    authenticator: SoftAuthenticator
    user: User


@pytest.fixture
async def signed(http_db: SessionMaker) -> AsyncIterator[Signed]:
    """A user signed in by password, on the passkey app."""
    test_app = passkey_app(http_db)
    user = await create_user(test_app)
    async with client_for(test_app.app) as client:
        yield Signed(client, bearer(await login(client)), SoftAuthenticator(ORIGIN), user)


async def _register(signed: Signed, name: str | None = "Phone") -> httpx.Response:
    options = await signed.client.post("/auth/jwt/passkeys/register/options", headers=signed.headers)
    assert options.status_code == 200, options.text
    assert options.headers["cache-control"] == "no-store"
    credential = signed.authenticator.create(options.json())
    return await signed.client.post(
        "/auth/jwt/passkeys/register", json={"credential": credential, "name": name}, headers=signed.headers
    )


async def _assertion(client: httpx.AsyncClient, authenticator: SoftAuthenticator, **kw: Any) -> dict[str, Any]:
    options = await client.post("/auth/jwt/passkeys/login/options")
    assert options.status_code == 200, options.text
    return authenticator.get(options.json(), **kw)


async def test_register_list_and_sign_in_without_an_email(signed: Signed) -> None:
    """A passkey registered by a signed-in user signs them in with no e-mail typed, at AAL2."""
    registered = await _register(signed)
    listed = await signed.client.get("/auth/jwt/passkeys", headers=signed.headers)

    login = await signed.client.post(
        "/auth/jwt/passkeys/login", json={"credential": await _assertion(signed.client, signed.authenticator)}
    )

    assert registered.status_code == 201, registered.text
    assert registered.json()["name"] == "Phone"
    assert "public_key" not in registered.json()
    assert [item["id"] for item in listed.json()] == [registered.json()["id"]]
    assert login.status_code == 200, login.text
    strong = await signed.client.get("/aal2", headers=bearer(login.json()["access_token"]))
    weak = await signed.client.get("/aal2", headers=signed.headers)
    assert strong.json() == {"id": str(signed.user.id)}
    assert weak.status_code == 401


async def test_a_cookie_backend_signs_in_with_a_cookie(signed: Signed) -> None:
    """The cookie backend's passkey sign-in answers 204 with the session cookie."""
    await _register(signed)
    options = await signed.client.post("/auth/cookie/passkeys/login/options")

    response = await signed.client.post(
        "/auth/cookie/passkeys/login", json={"credential": signed.authenticator.get(options.json())}
    )

    assert response.status_code == 204, response.text
    assert "set-cookie" in response.headers


async def test_rename_and_delete(signed: Signed) -> None:
    """The owner renames and deletes a passkey; an unknown id is 404, a blank name 400."""
    passkey_id = (await _register(signed, name=None)).json()["id"]

    renamed = await signed.client.patch(
        f"/auth/jwt/passkeys/{passkey_id}", json={"name": "Laptop"}, headers=signed.headers
    )
    blank = await signed.client.patch(f"/auth/jwt/passkeys/{passkey_id}", json={"name": " "}, headers=signed.headers)
    listed = await signed.client.get("/auth/jwt/passkeys", headers=signed.headers)
    deleted = await signed.client.delete(f"/auth/jwt/passkeys/{passkey_id}", headers=signed.headers)
    again = await signed.client.delete(f"/auth/jwt/passkeys/{passkey_id}", headers=signed.headers)
    unknown = await signed.client.patch(
        f"/auth/jwt/passkeys/{uuid.uuid4()}", json={"name": "x"}, headers=signed.headers
    )

    assert renamed.status_code == 204
    assert (blank.status_code, blank.json()["detail"]) == (400, "PASSKEY_INVALID_NAME")
    assert [item["name"] for item in listed.json()] == ["Laptop"]
    assert deleted.status_code == 204
    assert (again.status_code, again.json()["detail"]) == (404, "PASSKEY_UNKNOWN_CREDENTIAL")
    assert unknown.status_code == 404


async def test_refusals_are_4xx_with_their_codes(signed: Signed, caplog: pytest.LogCaptureFixture) -> None:
    """Garbage, a replay, a wrong origin, a clone and a second registration each get a 400 with their code."""
    await _register(signed)
    clone = signed.authenticator.clone()
    replayed = await _assertion(signed.client, signed.authenticator)
    first = await signed.client.post("/auth/jwt/passkeys/login", json={"credential": replayed})
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER_NAME)

    answers = {
        "garbage": await signed.client.post("/auth/jwt/passkeys/login", json={"credential": {"id": 1}}),
        "replay": await signed.client.post("/auth/jwt/passkeys/login", json={"credential": replayed}),
        "origin": await signed.client.post(
            "/auth/jwt/passkeys/login",
            json={"credential": await _assertion(signed.client, signed.authenticator, origin="https://evil.example")},
        ),
        "clone": await signed.client.post(
            "/auth/jwt/passkeys/login", json={"credential": await _assertion(signed.client, clone)}
        ),
    }
    options = await signed.client.post("/auth/jwt/passkeys/register/options", headers=signed.headers)
    duplicate = signed.authenticator.create(options.json(), credential_id=next(iter(signed.authenticator.credentials)))
    answers["duplicate"] = await signed.client.post(
        "/auth/jwt/passkeys/register", json={"credential": duplicate}, headers=signed.headers
    )
    answers["not json"] = await signed.client.post("/auth/jwt/passkeys/login", json={"credential": "x"})

    assert first.status_code == 200
    assert {name: (answer.status_code, answer.json()["detail"]) for name, answer in answers.items()} == {
        "garbage": (400, "PASSKEY_INVALID_PAYLOAD"),
        "replay": (400, "PASSKEY_CHALLENGE_INVALID"),
        "origin": (400, "PASSKEY_WRONG_ORIGIN"),
        "clone": (400, "PASSKEY_COUNTER_REGRESSION"),
        "duplicate": (400, "PASSKEY_ALREADY_REGISTERED"),
        "not json": (422, answers["not json"].json()["detail"]),
    }
    failures = [record.__dict__["security_event"] for record in caplog.records if "security_event" in record.__dict__]
    regression = [event for event in failures if event["details"].get("reason") == "PASSKEY_COUNTER_REGRESSION"]
    assert len(regression) == 1
    assert regression[0]["type"] == "login_failed"
    assert regression[0]["user_id"] == str(signed.user.id)


async def test_an_inactive_user_cannot_sign_in_with_a_passkey(signed: Signed, http_db: SessionMaker) -> None:
    """A deactivated user's passkey gets the login's 400 LOGIN_BAD_CREDENTIALS."""
    await _register(signed)
    async with http_db() as session:
        user = await session.get(User, signed.user.id)
        assert user is not None
        user.is_active = False
        await session.commit()

    response = await signed.client.post(
        "/auth/jwt/passkeys/login", json={"credential": await _assertion(signed.client, signed.authenticator)}
    )

    assert (response.status_code, response.json()["detail"]) == (400, "LOGIN_BAD_CREDENTIALS")


async def test_managing_passkeys_needs_a_sign_in_and_a_recent_one(http_db: SessionMaker) -> None:
    """Without a token the routes are 401; with fresh_within, a sign-in older than that gets RFC 9470's 401."""
    test_app = passkey_app(http_db, fresh_within=2)
    await create_user(test_app)
    async with client_for(test_app.app) as client:
        anonymous = await client.get("/auth/jwt/passkeys")
        headers = bearer(await login(client, password=PASSWORD))
        fresh = await client.get("/auth/jwt/passkeys", headers=headers)
        await asyncio.sleep(3.2)
        stale = await client.get("/auth/jwt/passkeys", headers=headers)

    assert anonymous.status_code == 401
    assert fresh.json() == []
    assert stale.status_code == 401
    assert "insufficient_user_authentication" in stale.headers["www-authenticate"]


async def test_verification_required_refuses_an_unverified_users_passkey(http_db: SessionMaker) -> None:
    """With requires_verification, a passkey of a user no longer verified gets LOGIN_USER_NOT_VERIFIED."""
    test_app = passkey_app(http_db, requires_verification=True)
    user = await create_user(test_app, is_verified=True)
    async with client_for(test_app.app) as client:
        signed = Signed(client, bearer(await login(client)), SoftAuthenticator(ORIGIN), user)
        assert (await _register(signed)).status_code == 201
        async with http_db() as session:
            stored = await session.get(User, user.id)
            assert stored is not None
            stored.is_verified = False
            await session.commit()

        response = await client.post(
            "/auth/jwt/passkeys/login", json={"credential": await _assertion(client, signed.authenticator)}
        )

    assert (response.status_code, response.json().get("detail")) == (400, "LOGIN_USER_NOT_VERIFIED"), response.text


async def test_a_deleted_users_passkey_signs_nobody_in(signed: Signed, http_db: SessionMaker) -> None:
    """A passkey whose user row is gone signs nobody in (PostgreSQL cascades; SQLite, unasked, keeps the row)."""
    await _register(signed)
    async with http_db() as session:
        user = await session.get(User, signed.user.id)
        await session.delete(user)
        await session.commit()

    response = await signed.client.post(
        "/auth/jwt/passkeys/login", json={"credential": await _assertion(signed.client, signed.authenticator)}
    )

    assert response.status_code == 400
    assert response.json()["detail"] in {"LOGIN_BAD_CREDENTIALS", "PASSKEY_UNKNOWN_CREDENTIAL"}


def test_openapi_lists_each_routes_passkey_errors() -> None:
    """The schema documents the codes each passkey route can answer, read from the error table."""
    schema = passkey_app(_unused_session_maker()).app.openapi()

    login = schema["paths"]["/auth/jwt/passkeys/login"]["post"]["responses"]["400"]
    delete = schema["paths"]["/auth/jwt/passkeys/{passkey_id}"]["delete"]["responses"]["404"]
    cookie = schema["paths"]["/auth/cookie/passkeys/login"]["post"]["responses"]

    examples = login["content"]["application/json"]["examples"]
    assert {"PASSKEY_COUNTER_REGRESSION", "PASSKEY_WRONG_ORIGIN", "LOGIN_BAD_CREDENTIALS"} <= set(examples)
    assert "PASSKEY_UNKNOWN_CREDENTIAL" in delete["content"]["application/json"]["examples"]
    assert {"204", "403"} <= set(cookie)


def _unused_session_maker() -> SessionMaker:
    # Building the schema opens no connection: an engine that is never used will do.
    return async_sessionmaker(create_async_engine("sqlite+aiosqlite://"))
