"""The passkey account routes over HTTP on SQLite, PostgreSQL and MariaDB (issue 19, items 3-5).

Passwordless sign-up, the last way in, removing and setting a password, a passkey answering a
password login's challenge, step-up with a passkey, notices, security events and rate limits.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit.authentication.reauthentication import Reauthentication, SessionEnded
from fastapi_userkit.security import FlowLimits, Limit, RateLimitSettings, SecuritySettings
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock as MFAClock
from tests.mfa.conftest import code_at
from tests.mfa.http_support import answer, bearer_token, challenge_token, clear_rate_limits, enrol, password_login
from tests.models import Passkey, User
from tests.passkeys.account_support import (
    EMAIL,
    NEW_EMAIL,
    account_app,
    capture_events,
    passkey_login,
    register,
    security_events,
    signup,
    token_of,
)
from tests.passkeys.authenticator import SoftAuthenticator, b64u
from tests.passkeys.conftest import ORIGIN
from tests.router.helpers import PASSWORD, client_for, create_user, fetch_user

STEP_UP = 'error="insufficient_user_authentication"'


@pytest.fixture(autouse=True)
async def _fresh_counters(db: SessionMaker) -> None:
    """Forget the limiter's counters: the server databases live for the whole run."""
    await clear_rate_limits(db)


@pytest.fixture
def mfa_clock() -> MFAClock:
    """The two-factor settings' clock (TOTP codes are computed at its time)."""
    return MFAClock()


async def _passkeys_of(db: SessionMaker, user: User) -> list[Passkey]:
    async with db() as session:
        rows = (await session.execute(select(Passkey))).scalars()
        return [row for row in rows if row.user_id == user.id]


# -- sign-up ---------------------------------------------------------------------------------------


async def test_sign_up_without_a_password_then_sign_in_without_an_email(db: SessionMaker) -> None:
    """A passkey sign-up creates a user with no usable password, signs them in at AAL2; the passkey signs in again."""
    app = account_app(db)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        signed_up = await signup(client, authenticator, "Merlin@Camelot.BT", first_name="Merlin")
        strong = await client.get("/aal2", headers=token_of(signed_up))
        again = await passkey_login(client, authenticator)
        by_password = await password_login(client, email=NEW_EMAIL)

    user = await fetch_user(app.test_app, NEW_EMAIL)
    assert user is not None
    assert user.email == "Merlin@camelot.bt"  # normalised by the app's schema, as on POST /register
    assert user.first_name == "Merlin"
    assert not has_usable_password(user.hashed_password)
    assert not user.is_superuser
    assert not user.is_verified
    assert strong.json() == {"id": str(user.id)}
    assert again.status_code == 200, again.text
    assert (by_password.status_code, by_password.json()["detail"]) == (400, "LOGIN_BAD_CREDENTIALS")
    assert [passkey.name for passkey in await _passkeys_of(db, user)] == ["Phone"]
    assert "on_after_register" in app.test_app.hooks.names()


async def test_sign_up_with_a_cookie_backend_sets_the_session_cookie(db: SessionMaker) -> None:
    """On the cookie backend the sign-up answers like its login: 204 and the cookie."""
    app = account_app(db)
    async with client_for(app.test_app.app) as client:
        response = await signup(client, SoftAuthenticator(ORIGIN), backend="cookie")

    assert response.status_code == 204, response.text
    assert "set-cookie" in response.headers


async def test_a_taken_address_is_refused_before_and_after_the_ceremony(db: SessionMaker) -> None:
    """A taken address is REGISTER_USER_ALREADY_EXISTS at the options, and at the end if taken meanwhile."""
    app = account_app(db)
    await create_user(app.test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        taken = await signup(client, authenticator, "USER@example.com")
        options = await client.post("/auth/jwt/passkeys/signup/options", json={"email": NEW_EMAIL})
        await create_user(app.test_app, NEW_EMAIL)  # a password sign-up wins the race
        late = await client.post("/auth/jwt/passkeys/signup", json={"credential": authenticator.create(options.json())})

    assert (taken.status_code, taken.json()["detail"]) == (400, "REGISTER_USER_ALREADY_EXISTS")
    assert (late.status_code, late.json()["detail"]) == (400, "REGISTER_USER_ALREADY_EXISTS")
    async with db() as session:
        assert list((await session.execute(select(Passkey))).scalars()) == []


async def test_a_sign_up_challenge_is_single_use(db: SessionMaker) -> None:
    """Replaying a sign-up answer is PASSKEY_CHALLENGE_INVALID and creates no second user."""
    app = account_app(db)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        options = await client.post("/auth/jwt/passkeys/signup/options", json={"email": NEW_EMAIL})
        credential = authenticator.create(options.json())
        first = await client.post("/auth/jwt/passkeys/signup", json={"credential": credential})
        replay = await client.post("/auth/jwt/passkeys/signup", json={"credential": credential})
        sign_in_options = await client.post("/auth/jwt/passkeys/login/options")
        wrong_ceremony = await client.post(
            "/auth/jwt/passkeys/signup",
            json={
                "credential": authenticator.create({**options.json(), "challenge": sign_in_options.json()["challenge"]})
            },
        )

    assert first.status_code == 200, first.text
    assert (replay.status_code, replay.json()["detail"]) == (400, "PASSKEY_CHALLENGE_INVALID")
    assert (wrong_ceremony.status_code, wrong_ceremony.json()["detail"]) == (400, "PASSKEY_CHALLENGE_INVALID")


async def test_sign_up_fields_are_the_apps_schema_without_a_password(db: SessionMaker) -> None:
    """A password, a privileged flag or a look-alike address in the sign-up fields is a 422 or ignored."""
    app = account_app(db)
    async with client_for(app.test_app.app) as client:
        with_password = await client.post(
            "/auth/jwt/passkeys/signup/options", json={"email": NEW_EMAIL, "password": PASSWORD}
        )
        lookalike = await client.post("/auth/jwt/passkeys/signup/options", json={"email": "\uff4derlin@camelot.bt"})
        privileged = await signup(client, SoftAuthenticator(ORIGIN), is_superuser=True, is_verified=True)

    assert with_password.status_code == 422
    assert lookalike.status_code == 422
    assert privileged.status_code == 200, privileged.text
    user = await fetch_user(app.test_app, NEW_EMAIL)
    assert user is not None
    assert not user.is_superuser
    assert not user.is_verified


async def test_a_backend_for_verified_users_creates_the_account_but_signs_nobody_in(db: SessionMaker) -> None:
    """With requires_verification the sign-up creates the user, then answers LOGIN_USER_NOT_VERIFIED."""
    app = account_app(db, requires_verification=True)
    async with client_for(app.test_app.app) as client:
        response = await signup(client, SoftAuthenticator(ORIGIN))

    assert (response.status_code, response.json().get("detail")) == (400, "LOGIN_USER_NOT_VERIFIED"), response.text
    assert await fetch_user(app.test_app, NEW_EMAIL) is not None


async def test_sign_up_is_off_without_a_create_schema(db: SessionMaker) -> None:
    """Without signup_schema the sign-up routes do not exist."""
    app = account_app(db, signup=False)
    async with client_for(app.test_app.app) as client:
        response = await client.post("/auth/jwt/passkeys/signup/options", json={"email": NEW_EMAIL})

    assert response.status_code == 404


# -- the last way in ---------------------------------------------------------------------------------


async def test_a_passwordless_account_keeps_its_last_passkey(db: SessionMaker) -> None:
    """Without a password the last passkey stays (PASSKEY_LAST_LOGIN_METHOD); a second one or a password frees it."""
    app = account_app(db)
    phone, laptop = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        headers = token_of(await signup(client, phone))
        first_id = (await client.get("/auth/jwt/passkeys", headers=headers)).json()[0]["id"]
        refused = await client.delete(f"/auth/jwt/passkeys/{first_id}", headers=headers)
        second_id = (await register(client, laptop, headers)).json()["id"]
        deleted = await client.delete(f"/auth/jwt/passkeys/{first_id}", headers=headers)
        last = await client.delete(f"/auth/jwt/passkeys/{second_id}", headers=headers)
        password_set = await client.put("/auth/jwt/passkeys/password", json={"password": PASSWORD}, headers=headers)
        fresh = token_of(await password_login(client, email=NEW_EMAIL))
        freed = await client.delete(f"/auth/jwt/passkeys/{second_id}", headers=fresh)

    assert (refused.status_code, refused.json()["detail"]) == (400, "PASSKEY_LAST_LOGIN_METHOD")
    assert deleted.status_code == 204
    assert (last.status_code, last.json()["detail"]) == (400, "PASSKEY_LAST_LOGIN_METHOD")
    assert password_set.status_code == 204, password_set.text
    assert freed.status_code == 204, freed.text


async def test_setting_a_first_password(db: SessionMaker) -> None:
    """A passwordless user sets a password without a current one, once; a stale sign-in must step up first."""
    app = account_app(db)
    async with client_for(app.test_app.app) as client:
        headers = token_of(await signup(client, SoftAuthenticator(ORIGIN)))
        app.clock.offset = timedelta(hours=1)
        stale = await client.put("/auth/jwt/passkeys/password", json={"password": PASSWORD}, headers=headers)
        app.clock.offset = timedelta(0)
        done = await client.put("/auth/jwt/passkeys/password", json={"password": PASSWORD}, headers=headers)
        logged_in = await password_login(client, email=NEW_EMAIL)
        again = await client.put(
            "/auth/jwt/passkeys/password", json={"password": PASSWORD + "!"}, headers=token_of(logged_in)
        )

    assert stale.status_code == 401
    assert STEP_UP in stale.headers["www-authenticate"]
    assert done.status_code == 204, done.text
    assert logged_in.status_code == 200
    assert (again.status_code, again.json()["detail"]) == (400, "PASSWORD_ALREADY_SET")


async def test_a_first_password_of_a_user_with_a_factor_needs_two_factors(
    db: SessionMaker, mfa_clock: MFAClock
) -> None:
    """With two-factor login, a passwordless user with TOTP sets a password only after a two-factor sign-in (T43)."""
    app = account_app(db, mfa_clock=mfa_clock, user_verification="preferred")
    async with client_for(app.test_app.app) as client:
        one_factor = token_of(await signup(client, SoftAuthenticator(ORIGIN, user_verification=False)))
        await enrol(client, mfa_clock, one_factor)
        refused = await client.put("/auth/jwt/passkeys/password", json={"password": PASSWORD}, headers=one_factor)

    assert refused.status_code == 401, refused.text
    assert 'acr_values="aal2"' in refused.headers["www-authenticate"]


async def test_removing_the_password_needs_a_fresh_two_factor_sign_in(
    db: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """DELETE /passkeys/password: a password sign-in (AAL1) is refused; a UV passkey sign-in removes it (an event)."""
    capture_events(caplog)
    app = account_app(db)
    await create_user(app.test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        weak = await bearer_token(client)
        assert (await register(client, authenticator, weak)).status_code == 201
        refused = await client.delete("/auth/jwt/passkeys/password", headers=weak)
        strong = token_of(await passkey_login(client, authenticator))
        app.clock.offset = timedelta(hours=1)
        stale = await client.delete("/auth/jwt/passkeys/password", headers=strong)
        app.clock.offset = timedelta(0)
        removed = await client.delete("/auth/jwt/passkeys/password", headers=strong)
        by_password = await password_login(client)
        by_passkey = await passkey_login(client, authenticator)
        again = await client.delete("/auth/jwt/passkeys/password", headers=token_of(by_passkey))

    assert refused.status_code == 401
    assert 'acr_values="aal2"' in refused.headers["www-authenticate"]
    assert stale.status_code == 401
    assert removed.status_code == 204, removed.text
    assert (by_password.status_code, by_password.json()["detail"]) == (400, "LOGIN_BAD_CREDENTIALS")
    assert again.status_code == 204  # nothing left to remove
    removals = [event for event in security_events(caplog) if event["type"] == "password_changed"]
    assert [event["details"] for event in removals] == [{"change": "removed"}]
    user = await fetch_user(app.test_app, EMAIL)
    assert user is not None
    assert not has_usable_password(user.hashed_password)


async def test_the_password_is_kept_when_it_is_the_last_way_in(db: SessionMaker) -> None:
    """A user whose only passkey is gone cannot remove the password (PASSWORD_LAST_LOGIN_METHOD)."""
    app = account_app(db)
    await create_user(app.test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        weak = await bearer_token(client)
        passkey_id = (await register(client, authenticator, weak)).json()["id"]
        strong = token_of(await passkey_login(client, authenticator))
        assert (await client.delete(f"/auth/jwt/passkeys/{passkey_id}", headers=strong)).status_code == 204
        refused = await client.delete("/auth/jwt/passkeys/password", headers=strong)

    assert (refused.status_code, refused.json()["detail"]) == (400, "PASSWORD_LAST_LOGIN_METHOD")


# -- second factor and step-up -----------------------------------------------------------------------


async def test_a_passkey_completes_a_password_logins_challenge(db: SessionMaker, mfa_clock: MFAClock) -> None:
    """A TOTP user's password login (202) is completed with their passkey at AAL2; the challenge is then spent."""
    app = account_app(db, mfa_clock=mfa_clock)
    await create_user(app.test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        headers = await bearer_token(client)
        assert (await register(client, authenticator, headers)).status_code == 201
        await enrol(client, mfa_clock, headers)
        token = await challenge_token(client)
        options = await client.post("/auth/jwt/passkeys/mfa/options", json={"challenge_token": token})
        completed = await client.post(
            "/auth/jwt/passkeys/mfa", json={"challenge_token": token, "credential": authenticator.get(options.json())}
        )
        strong = await client.get("/aal2", headers=token_of(completed))
        spent = await client.post("/auth/jwt/passkeys/mfa/options", json={"challenge_token": token})

    allowed = [item["id"] for item in options.json()["allowCredentials"]]
    assert allowed == [b64u(raw_id) for raw_id in authenticator.credentials]
    assert strong.status_code == 200, strong.text
    assert (spent.status_code, spent.json()["detail"]) == (400, "MFA_CHALLENGE_INVALID")


async def test_a_second_step_passkey_answers_only_its_own_challenge(db: SessionMaker, mfa_clock: MFAClock) -> None:
    """Sign-in options, another login's options, a garbage token and a user without passkeys are all refused."""
    app = account_app(db, mfa_clock=mfa_clock)
    await create_user(app.test_app, EMAIL)
    await create_user(app.test_app, "other@example.com")
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        headers = await bearer_token(client)
        assert (await register(client, authenticator, headers)).status_code == 201
        enrolled = await enrol(client, mfa_clock, headers)
        other = await bearer_token(client, "other@example.com")
        await enrol(client, mfa_clock, other)
        token, second = await challenge_token(client), await challenge_token(client)
        usernameless = (await client.post("/auth/jwt/passkeys/login/options")).json()
        wrong_options = await client.post(
            "/auth/jwt/passkeys/mfa", json={"challenge_token": token, "credential": authenticator.get(usernameless)}
        )
        for_second = (await client.post("/auth/jwt/passkeys/mfa/options", json={"challenge_token": second})).json()
        crossed = await client.post(
            "/auth/jwt/passkeys/mfa", json={"challenge_token": token, "credential": authenticator.get(for_second)}
        )
        garbage = await client.post("/auth/jwt/passkeys/mfa/options", json={"challenge_token": "x" * 43})
        no_passkey = await client.post(
            "/auth/jwt/passkeys/mfa/options",
            json={"challenge_token": await challenge_token(client, email="other@example.com")},
        )
        mfa_clock.advance(30)
        by_code = await answer(client, token, code_at(enrolled.secret, mfa_clock.now))

    assert (wrong_options.status_code, wrong_options.json()["detail"]) == (400, "PASSKEY_CHALLENGE_INVALID")
    assert (crossed.status_code, crossed.json()["detail"]) == (400, "PASSKEY_CHALLENGE_INVALID")
    assert (garbage.status_code, garbage.json()["detail"]) == (400, "MFA_CHALLENGE_INVALID")
    assert (no_passkey.status_code, no_passkey.json()["detail"]) == (400, "PASSKEY_UNKNOWN_CREDENTIAL")
    assert by_code.status_code == 200, by_code.text  # the refused passkeys did not spend the challenge


async def test_step_up_with_a_passkey(db: SessionMaker) -> None:
    """A password token (AAL1) re-authenticated with a UV passkey reaches aal=2 and is fresh again."""
    app = account_app(db)
    await create_user(app.test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        weak = await bearer_token(client)
        assert (await register(client, authenticator, weak)).status_code == 201
        before = await client.get("/aal2", headers=weak)
        app.clock.offset = timedelta(hours=1)
        stale_list = await client.get("/auth/jwt/passkeys", headers=weak)
        options = await client.post("/auth/jwt/passkeys/reauthenticate/options", headers=weak)
        renewed = await client.post(
            "/auth/jwt/passkeys/reauthenticate", json={"credential": authenticator.get(options.json())}, headers=weak
        )
        app.clock.offset = timedelta(0)
        strong = token_of(renewed)
        after = await client.get("/aal2", headers=strong)
        replay = await client.post(
            "/auth/jwt/passkeys/reauthenticate", json={"credential": authenticator.get(options.json())}, headers=strong
        )
        anonymous = await client.post("/auth/jwt/passkeys/reauthenticate/options")

    assert before.status_code == 401
    assert stale_list.status_code == 401
    assert after.status_code == 200, after.text
    assert (replay.status_code, replay.json()["detail"]) == (400, "PASSKEY_CHALLENGE_INVALID")
    assert anonymous.status_code == 401


async def test_a_session_ended_during_a_passkey_step_up_is_a_401(
    db: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the token's session ends before the renewal (a concurrent logout), the answer is 401, no token."""

    async def ended(*args: object, **kwargs: object) -> None:
        raise SessionEnded()

    app = account_app(db)
    await create_user(app.test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        headers = await bearer_token(client)
        assert (await register(client, authenticator, headers)).status_code == 201
        options = await client.post("/auth/jwt/passkeys/reauthenticate/options", headers=headers)
        monkeypatch.setattr(Reauthentication, "renew", ended)
        response = await client.post(
            "/auth/jwt/passkeys/reauthenticate", json={"credential": authenticator.get(options.json())}, headers=headers
        )

    assert response.status_code == 401
    assert "access_token" not in response.text


async def test_another_users_passkey_does_not_step_up(db: SessionMaker) -> None:
    """Re-authentication accepts only the current user's passkey; a user without one gets no options."""
    app = account_app(db)
    await create_user(app.test_app, EMAIL)
    await create_user(app.test_app, "other@example.com")
    mine, theirs = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        headers = await bearer_token(client)
        other = await bearer_token(client, "other@example.com")
        assert (await register(client, mine, headers)).status_code == 201
        none_yet = await client.post("/auth/jwt/passkeys/reauthenticate/options", headers=other)
        assert (await register(client, theirs, other)).status_code == 201
        options = await client.post("/auth/jwt/passkeys/reauthenticate/options", headers=headers)
        usernameless = (await client.post("/auth/jwt/passkeys/login/options")).json()
        crossed = await client.post(
            "/auth/jwt/passkeys/reauthenticate",
            json={"credential": theirs.get(usernameless)},
            headers=headers,
        )
        foreign = await client.post(
            "/auth/jwt/passkeys/reauthenticate",
            json={"credential": theirs.get({**options.json(), "allowCredentials": []})},
            headers=headers,
        )

    assert (none_yet.status_code, none_yet.json()["detail"]) == (400, "PASSKEY_UNKNOWN_CREDENTIAL")
    assert (crossed.status_code, crossed.json()["detail"]) == (400, "PASSKEY_CHALLENGE_INVALID")
    assert (foreign.status_code, foreign.json()["detail"]) == (400, "PASSKEY_UNKNOWN_CREDENTIAL")


# -- notices, events, rate limits --------------------------------------------------------------------


async def test_passkey_changes_are_mailed_and_recorded(db: SessionMaker, caplog: pytest.LogCaptureFixture) -> None:
    """Adding, renaming and deleting a passkey each send the user a notice and emit a security event."""
    app = account_app(db)
    user = await create_user(app.test_app, EMAIL)
    capture_events(caplog)
    async with client_for(app.test_app.app) as client:
        headers = await bearer_token(client)
        passkey_id = (await register(client, SoftAuthenticator(ORIGIN), headers, name="Laptop")).json()["id"]
        assert (
            await client.patch(f"/auth/jwt/passkeys/{passkey_id}", json={"name": " Work laptop "}, headers=headers)
        ).status_code == 204
        assert (await client.delete(f"/auth/jwt/passkeys/{passkey_id}", headers=headers)).status_code == 204

    notices = [message for message in app.outbox.messages if "Passkeys changed" in str(message["Subject"])]
    bodies = [str(message.get_body(("plain",)).get_content()) for message in notices]  # type: ignore[union-attr]
    assert [message["To"] for message in notices] == [EMAIL] * 3
    assert "'Laptop' was added" in bodies[0]
    assert "renamed 'Work laptop'" in bodies[1]
    assert "'Work laptop' was deleted" in bodies[2]
    events = [event for event in security_events(caplog) if event["type"].startswith("passkey_")]
    assert [event["type"] for event in events] == ["passkey_registered", "passkey_renamed", "passkey_deleted"]
    assert {event["user_id"] for event in events} == {str(user.id)}
    assert {event["details"]["passkey_id"] for event in events} == {passkey_id}


async def test_a_cloned_passkey_is_refused_and_reported(db: SessionMaker, caplog: pytest.LogCaptureFixture) -> None:
    """A counter that goes backwards is 400 PASSKEY_COUNTER_REGRESSION and a passkey_counter_regression event."""
    app = account_app(db)
    user = await create_user(app.test_app, EMAIL)
    authenticator = SoftAuthenticator(ORIGIN)
    async with client_for(app.test_app.app) as client:
        assert (await register(client, authenticator, await bearer_token(client))).status_code == 201
        clone = authenticator.clone()
        assert (await passkey_login(client, authenticator)).status_code == 200
        capture_events(caplog)
        refused = await passkey_login(client, clone)

    assert (refused.status_code, refused.json()["detail"]) == (400, "PASSKEY_COUNTER_REGRESSION")
    clones = [event for event in security_events(caplog) if event["type"] == "passkey_counter_regression"]
    assert len(clones) == 1
    assert clones[0]["user_id"] == str(user.id)
    assert clones[0]["details"] == {"stored_count": "1", "received_count": "1"}


async def test_passkey_sign_ins_are_rate_limited_like_logins(db: SessionMaker) -> None:
    """Refused passkey sign-ins count per IP: past the limit the answer is 429 with Retry-After."""
    security = SecuritySettings(rate_limit=RateLimitSettings(login_ip=Limit(3, 60)))
    app = account_app(db, security=security)
    async with client_for(app.test_app.app) as client:
        answers = [await client.post("/auth/jwt/passkeys/login", json={"credential": {"id": "x"}}) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [400, 400, 400, 429]
    assert int(answers[-1].headers["retry-after"]) > 0
    assert answers[-1].json()["detail"] == "TOO_MANY_REQUESTS"


async def test_sign_ups_are_rate_limited_like_registrations(db: SessionMaker) -> None:
    """Refused sign-ups (a taken address) count like refused registrations: then 429."""
    security = SecuritySettings(rate_limit=RateLimitSettings(register=FlowLimits(Limit(2, 60))))
    app = account_app(db, security=security)
    await create_user(app.test_app, EMAIL)
    async with client_for(app.test_app.app) as client:
        answers = [await client.post("/auth/jwt/passkeys/signup/options", json={"email": EMAIL}) for _ in range(3)]
        completion = await client.post("/auth/jwt/passkeys/signup", json={"credential": {}})

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert completion.status_code == 429
    assert "retry-after" in completion.headers


async def test_openapi_documents_the_account_routes_errors(db: SessionMaker, mfa_clock: MFAClock) -> None:
    """Each new route lists its error codes from the table."""
    schema = account_app(db, mfa_clock=mfa_clock).test_app.app.openapi()
    paths = schema["paths"]

    def codes(path: str, method: str = "post", status: str = "400") -> set[str]:
        return set(paths[path][method]["responses"][status]["content"]["application/json"]["examples"])

    assert {"REGISTER_USER_ALREADY_EXISTS", "PASSKEY_CHALLENGE_INVALID"} <= codes("/auth/jwt/passkeys/signup")
    assert "REGISTER_USER_ALREADY_EXISTS" in codes("/auth/jwt/passkeys/signup/options")
    assert {"MFA_CHALLENGE_INVALID", "PASSKEY_UNKNOWN_CREDENTIAL"} <= codes("/auth/jwt/passkeys/mfa")
    assert "PASSKEY_COUNTER_REGRESSION" in codes("/auth/jwt/passkeys/reauthenticate")
    assert "PASSWORD_ALREADY_SET" in codes("/auth/jwt/passkeys/password", "put")
    assert "PASSWORD_LAST_LOGIN_METHOD" in codes("/auth/jwt/passkeys/password", "delete")
    assert "PASSKEY_LAST_LOGIN_METHOD" in codes("/auth/jwt/passkeys/{passkey_id}", "delete")
    assert "429" in paths["/auth/jwt/passkeys/login"]["post"]["responses"]
    assert "429" in paths["/auth/jwt/passkeys/signup"]["post"]["responses"]
