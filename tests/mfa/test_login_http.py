"""Two-factor login over HTTP (issue 18, items 3 and 6), on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from sqlalchemy import select

from fastapi_userkit import BaseUserManager
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.mail import AccountMailer, OutboxMailer
from fastapi_userkit.security.events import SECURITY_LOGGER_NAME
from tests.app_factory import HookLog, TestApp, fast_password_helper, make_app, make_user_manager_class
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock, code_at
from tests.mfa.http_support import (
    EMAIL,
    answer,
    bearer_token,
    challenge_token,
    clear_rate_limits,
    enrol,
    mfa_app,
    password_login,
    sql_mfa,
)
from tests.models import MFAChallenge, OAuthAccount, User
from tests.router.helpers import bearer, client_for, create_user


@pytest.fixture
async def test_app(db: SessionMaker, clock: Clock) -> TestApp:
    """The documented app with two-factor login, on every database, with one user."""
    await clear_rate_limits(db)
    app = mfa_app(db, clock)
    await create_user(app, EMAIL)
    await create_user(app, "admin@example.com", is_superuser=True)
    return app


@pytest.fixture
async def client(test_app: TestApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``test_app``."""
    async with client_for(test_app.app) as client:
        yield client


async def test_after_enrolment_the_password_alone_gets_a_challenge_and_the_code_a_token(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """Enrol, confirm, then a login answers 202 MFA_REQUIRED (no token) and the code completes it."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    assert len(enrolled.recovery_codes) == 10

    challenged = await password_login(client)
    assert challenged.status_code == 202
    body = challenged.json()
    assert body["detail"] == "MFA_REQUIRED"
    assert body["methods"] == ["totp", "recovery_code"]
    assert len(body["challenge_token"]) >= 43  # 256 bits, base64url
    assert "access_token" not in body
    assert challenged.headers["cache-control"] == "no-store"

    clock.advance(30)
    completed = await answer(client, body["challenge_token"], code_at(enrolled.secret, clock.now))
    assert completed.status_code == 200, completed.text
    assert completed.json()["token_type"] == "bearer"
    me = await client.get("/users/me", headers=bearer(completed.json()["access_token"]))
    assert me.json()["email"] == EMAIL
    # The token records two factors (H3's assurance claims); a password-only token records one.
    assert jwt.decode(completed.json()["access_token"], options={"verify_signature": False})["aal"] == 2
    assert (
        jwt.decode(
            (await password_login(client, email="admin@example.com")).json()["access_token"],
            options={"verify_signature": False},
        )["aal"]
        == 1
    )


async def test_the_challenge_is_stored_as_a_digest(client: httpx.AsyncClient, clock: Clock, test_app: TestApp) -> None:
    """The table holds the token's SHA-256 digest, never the token."""
    await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    async with test_app.session_maker() as session:
        digests = [row.digest for row in (await session.execute(select(MFAChallenge))).scalars()]
    assert len(digests) == 1
    assert token not in digests[0]
    assert digests[0] != token


async def test_a_wrong_code_is_refused_and_the_right_one_still_works(client: httpx.AsyncClient, clock: Clock) -> None:
    """A wrong code is 400 MFA_INVALID_CODE; the challenge survives for another attempt."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    clock.advance(30)
    wrong = await answer(client, token, "000000" if code_at(enrolled.secret, clock.now) != "000000" else "111111")
    assert (wrong.status_code, wrong.json()) == (400, {"detail": "MFA_INVALID_CODE"})
    right = await answer(client, token, code_at(enrolled.secret, clock.now))
    assert right.status_code == 200


async def test_a_replayed_code_is_refused_with_an_event(
    client: httpx.AsyncClient, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The confirming code cannot sign in (its step was accepted): 400 MFA_CODE_REPLAYED and an event (T41)."""
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER_NAME)
    enrolled = await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    replayed = await answer(client, token, code_at(enrolled.secret, clock.now))
    assert (replayed.status_code, replayed.json()) == (400, {"detail": "MFA_CODE_REPLAYED"})
    assert any("mfa_code_replayed" in record.getMessage() for record in caplog.records)


async def test_an_expired_challenge_is_refused(client: httpx.AsyncClient, clock: Clock) -> None:
    """Past its lifetime (300 s) a challenge is 400 MFA_CHALLENGE_INVALID, even with the right code."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    clock.advance(301)
    late = await answer(client, token, code_at(enrolled.secret, clock.now))
    assert (late.status_code, late.json()) == (400, {"detail": "MFA_CHALLENGE_INVALID"})


async def test_a_challenge_is_single_use(client: httpx.AsyncClient, clock: Clock) -> None:
    """A completed challenge cannot complete a second login."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    clock.advance(30)
    assert (await answer(client, token, code_at(enrolled.secret, clock.now))).status_code == 200
    clock.advance(30)
    again = await answer(client, token, code_at(enrolled.secret, clock.now))
    assert (again.status_code, again.json()) == (400, {"detail": "MFA_CHALLENGE_INVALID"})


async def test_a_challenge_dies_after_five_attempts(client: httpx.AsyncClient, clock: Clock) -> None:
    """Five wrong codes use the challenge up: the right code then gets MFA_CHALLENGE_INVALID."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    clock.advance(30)
    right = code_at(enrolled.secret, clock.now)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert (await answer(client, token, wrong)).json() == {"detail": "MFA_INVALID_CODE"}
    final = await answer(client, token, right)
    assert (final.status_code, final.json()) == (400, {"detail": "MFA_CHALLENGE_INVALID"})


async def test_an_unknown_challenge_is_refused(client: httpx.AsyncClient) -> None:
    """A made-up challenge token is 400 MFA_CHALLENGE_INVALID."""
    response = await answer(client, "x" * 43, "123456")
    assert (response.status_code, response.json()) == (400, {"detail": "MFA_CHALLENGE_INVALID"})


async def test_a_recovery_code_works_once(client: httpx.AsyncClient, clock: Clock) -> None:
    """A recovery code completes one login; the same code is refused the next time (T42)."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    code = enrolled.recovery_codes[0]
    assert (await answer(client, await challenge_token(client), code)).status_code == 200
    reused = await answer(client, await challenge_token(client), code.upper())
    assert (reused.status_code, reused.json()) == (400, {"detail": "MFA_INVALID_CODE"})
    status = await client.get("/users/me/mfa", headers=await _aal_bearer(client, clock, enrolled.secret))
    assert status.json()["recovery_codes_left"] == 9


async def _aal_bearer(client: httpx.AsyncClient, clock: Clock, secret: str) -> dict[str, str]:
    clock.advance(30)
    response = await answer(client, await challenge_token(client), code_at(secret, clock.now))
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def test_the_cookie_backend_asks_for_the_code_and_then_sets_the_cookie(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """The cookie login answers the same challenge; the code completes it with the cookie (204)."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    challenged = await password_login(client, "cookie")
    assert challenged.status_code == 202
    assert "set-cookie" not in challenged.headers
    clock.advance(30)
    completed = await answer(
        client, challenged.json()["challenge_token"], code_at(enrolled.secret, clock.now), "cookie"
    )
    assert completed.status_code == 204
    assert "fastapiusersauth=" in completed.headers["set-cookie"]


async def test_a_challenge_is_bound_to_its_backend(client: httpx.AsyncClient, clock: Clock) -> None:
    """A challenge of the bearer login cannot be answered at the cookie backend's route."""
    enrolled = await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client, "jwt")
    clock.advance(30)
    crossed = await answer(client, token, code_at(enrolled.secret, clock.now), "cookie")
    assert (crossed.status_code, crossed.json()) == (400, {"detail": "MFA_CHALLENGE_INVALID"})


async def test_a_password_reset_does_not_skip_the_second_factor(
    client: httpx.AsyncClient, clock: Clock, test_app: TestApp
) -> None:
    """T38: after a reset, the new password alone still gets a challenge."""
    await enrol(client, clock, await bearer_token(client))
    await client.post("/auth/forgot-password", json={"email": EMAIL})
    token = test_app.hooks.last("on_after_forgot_password")["token"]
    reset = await client.post("/auth/reset-password", json={"token": token, "password": "a brand new passphrase"})
    assert reset.status_code == 200
    response = await password_login(client, password="a brand new passphrase")
    assert response.status_code == 202
    assert response.json()["detail"] == "MFA_REQUIRED"


async def test_a_superuser_removes_a_users_factor(client: httpx.AsyncClient, clock: Clock, test_app: TestApp) -> None:
    """DELETE /users/{id}/mfa by a superuser: the user signs in with the password alone again."""
    user_headers = await bearer_token(client)
    user_id = (await client.get("/users/me", headers=user_headers)).json()["id"]
    await enrol(client, clock, user_headers)
    admin = await bearer_token(client, "admin@example.com")
    assert (await client.delete(f"/users/{user_id}/mfa", headers=user_headers)).status_code == 403
    assert (await client.delete(f"/users/{user_id}/mfa", headers=admin)).status_code == 204
    again = await client.delete(f"/users/{user_id}/mfa", headers=admin)
    assert (again.status_code, again.json()) == (400, {"detail": "MFA_NOT_ENABLED"})
    assert (await client.delete("/users/not-an-id/mfa", headers=admin)).status_code == 404
    assert (await password_login(client)).status_code == 200


async def test_the_user_manages_their_own_factor(client: httpx.AsyncClient, clock: Clock) -> None:
    """Status, regenerate recovery codes (old ones die), disable; errors are 400 with an MFA code."""
    headers = await bearer_token(client)
    assert (await client.get("/users/me/mfa", headers=headers)).json() == {
        "enabled": False,
        "methods": [],
        "recovery_codes_left": 0,
        "enrolment_pending": False,
    }
    no_codes = await client.post("/users/me/mfa/recovery-codes", headers=headers)
    assert no_codes.json() == {"detail": "MFA_NOT_ENABLED"}
    not_begun = await client.post("/users/me/mfa/totp/confirm", json={"code": "123456"}, headers=headers)
    assert not_begun.json() == {"detail": "MFA_ENROLMENT_NOT_FOUND"}
    begun = await client.post("/users/me/mfa/totp", headers=headers)
    assert begun.json()["otpauth_uri"].startswith("otpauth://totp/Camelot:")
    assert begun.json()["qr_svg"].startswith("<svg")
    assert begun.headers["cache-control"] == "no-store"
    wrong = await client.post("/users/me/mfa/totp/confirm", json={"code": "12345x"}, headers=headers)
    assert wrong.json() == {"detail": "MFA_INVALID_CODE"}
    secret = begun.json()["secret"]
    confirmed = await client.post(
        "/users/me/mfa/totp/confirm", json={"code": code_at(secret, clock.now)}, headers=headers
    )
    old_codes = confirmed.json()["recovery_codes"]

    # T43: the password-only token no longer changes the factor; a two-factor sign-in does.
    refused = await client.post("/users/me/mfa/recovery-codes", headers=headers)
    assert (refused.status_code, refused.json()) == (401, {"detail": "INSUFFICIENT_USER_AUTHENTICATION"})
    assert 'error="insufficient_user_authentication"' in refused.headers["www-authenticate"]
    assert 'acr_values="aal2"' in refused.headers["www-authenticate"]
    headers = await _aal_bearer(client, clock, secret)
    twice = await client.post("/users/me/mfa/totp", headers=headers)
    assert twice.json() == {"detail": "MFA_ALREADY_ENABLED"}
    regenerated = await client.post("/users/me/mfa/recovery-codes", headers=headers)
    assert regenerated.status_code == 200
    new_codes = regenerated.json()["recovery_codes"]
    assert set(new_codes).isdisjoint(old_codes)
    assert (await answer(client, await challenge_token(client), old_codes[0])).json() == {"detail": "MFA_INVALID_CODE"}
    assert (await answer(client, await challenge_token(client), new_codes[0])).status_code == 200

    assert (await client.delete("/users/me/mfa/totp", headers=headers)).status_code == 204
    assert (await client.get("/users/me/mfa", headers=headers)).json()["enabled"] is False
    assert (await client.delete("/users/me/mfa/totp", headers=headers)).json() == {"detail": "MFA_NOT_ENABLED"}
    assert (await password_login(client)).status_code == 200


async def test_wrong_codes_count_as_failed_logins(
    client: httpx.AsyncClient, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong code emits a login_failed event with the reason mfa_invalid_code."""
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER_NAME)
    await enrol(client, clock, await bearer_token(client))
    await answer(client, await challenge_token(client), "zzzzz-zzzzz")
    failures = [vars(r).get("security_event", {}) for r in caplog.records if "login_failed" in r.getMessage()]
    assert any(event.get("details", {}).get("reason") == "mfa_invalid_code" for event in failures)


async def test_malformed_bodies_are_422(client: httpx.AsyncClient) -> None:
    """An over-long code or token, or a missing field, is a 422, never a 500."""
    assert (await answer(client, "t", "1" * 65)).status_code == 422
    assert (await answer(client, "t" * 129, "123456")).status_code == 422
    assert (await client.post("/auth/jwt/mfa", json={"code": "123456"})).status_code == 422


async def test_a_user_without_a_factor_logs_in_as_before(client: httpx.AsyncClient) -> None:
    """With MFA on, a user without a factor gets FastAPI Users' login answer."""
    response = await password_login(client)
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "token_type"}


async def test_an_app_without_mfa_answers_as_before(db: SessionMaker, clock: Clock) -> None:
    """Without ``mfa``: no /mfa route, no 202 in OpenAPI, and a login gives the token even with TOTP rows."""
    await clear_rate_limits(db)
    with_mfa = mfa_app(db, clock)
    await create_user(with_mfa, EMAIL)
    async with client_for(with_mfa.app) as client:
        await enrol(client, clock, await bearer_token(client))
    plain = make_app(db)
    async with client_for(plain.app) as client:
        login = await password_login(client)
        assert login.status_code == 200
        assert set(login.json()) == {"access_token", "token_type"}
        assert (await answer(client, "t", "123456")).status_code == 404
        openapi = (await client.get("/openapi.json")).json()
    assert "202" not in openapi["paths"]["/auth/jwt/login"]["post"]["responses"]
    assert "/users/me/mfa" not in openapi["paths"]


async def test_get_mfa_router_needs_the_settings(db: SessionMaker, clock: Clock) -> None:
    """``get_mfa_router()`` on an app built without ``mfa`` fails at wiring time."""
    from fastapi_userkit.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError):
        make_app(db).fastapi_users.get_mfa_router()
    assert sql_mfa(db, clock).challenge_lifetime == 300


async def test_changing_email_or_password_with_a_factor_needs_a_two_factor_sign_in(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """T43: PATCH /users/me of the e-mail or password needs AAL2 once a factor is on; other fields do not."""
    password_only = await bearer_token(client)
    assert (await client.patch("/users/me", json={"first_name": "Before"}, headers=password_only)).status_code == 200
    enrolled = await enrol(client, clock, password_only)

    refused = await client.patch("/users/me", json={"email": "new@example.com"}, headers=password_only)
    assert (refused.status_code, refused.json()) == (401, {"detail": "INSUFFICIENT_USER_AUTHENTICATION"})
    refused = await client.patch("/users/me", json={"password": "another long passphrase"}, headers=password_only)
    assert refused.status_code == 401
    assert (await client.patch("/users/me", json={"first_name": "After"}, headers=password_only)).status_code == 200
    assert (await client.delete("/users/me/mfa/totp", headers=password_only)).status_code == 401

    two_factor = await _aal_bearer(client, clock, enrolled.secret)
    changed = await client.patch("/users/me", json={"email": "new@example.com"}, headers=two_factor)
    assert changed.status_code == 200, changed.text
    assert (await client.delete("/users/me/mfa/totp", headers=two_factor)).status_code == 204


async def test_a_user_without_a_factor_changes_the_email_as_before(client: httpx.AsyncClient) -> None:
    """Without a factor, a password-only token changes the e-mail (FastAPI Users' behaviour)."""
    headers = await bearer_token(client)
    changed = await client.patch("/users/me", json={"email": "new@example.com"}, headers=headers)
    assert changed.status_code == 200


async def test_each_change_of_the_factors_is_mailed_to_the_user(db: SessionMaker, clock: Clock) -> None:
    """T43: turning the factor on, new recovery codes and turning it off each send a notice."""
    await clear_rate_limits(db)
    test_app = mfa_app(db, clock)
    await create_user(test_app, EMAIL)
    outbox = OutboxMailer()
    manager_class = make_user_manager_class(HookLog())

    async def get_manager() -> AsyncIterator[BaseUserManager[User, uuid.UUID]]:
        async with db() as session:
            user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
            mailer = AccountMailer(outbox, sender="no-reply@camelot.bt", app_name="Camelot")
            yield manager_class(user_db, fast_password_helper(), mailer=mailer)

    test_app.app.dependency_overrides[test_app.fastapi_users.get_user_manager] = get_manager
    async with client_for(test_app.app) as client:
        enrolled = await enrol(client, clock, await bearer_token(client))
        headers = await _aal_bearer(client, clock, enrolled.secret)
        assert (await client.post("/users/me/mfa/recovery-codes", headers=headers)).status_code == 200
        assert (await client.delete("/users/me/mfa/totp", headers=headers)).status_code == 204

    notices = [message for message in outbox.messages if "Two-factor" in str(message["Subject"])]
    bodies = [str(message.get_body(("plain",)).get_content()) for message in notices]  # type: ignore[union-attr]
    assert [message["To"] for message in notices] == [EMAIL] * 3
    assert "turned on" in bodies[0]
    assert "new recovery codes" in bodies[1]
    assert "turned off" in bodies[2]


async def test_wrong_codes_delay_the_account_like_wrong_passwords(client: httpx.AsyncClient, clock: Clock) -> None:
    """Five wrong codes are five failed logins: the account then waits (429 with Retry-After), password included."""
    await enrol(client, clock, await bearer_token(client))
    token = await challenge_token(client)
    for _ in range(5):
        assert (await answer(client, token, "zzzzz-zzzzz")).status_code == 400
    waiting = await password_login(client)
    assert waiting.status_code == 429
    assert int(waiting.headers["retry-after"]) > 0
