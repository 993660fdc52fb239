"""The account page: password and e-mail changes with the current password, sessions, linked accounts."""

from __future__ import annotations

import uuid

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.security import DEFAULT_PASSWORD_POLICY, SecuritySettings
from fastapi_userkit.security.settings import LoginThrottle, RateLimitSettings
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User
from tests.pages.support import PASSWORD, client_for, form_token, mount_pages, pages_app, sign_up_and_in, submit
from tests.sessions.harness import make_store, refresh_app

NEW_PASSWORD = "another long passphrase"


async def test_change_password_needs_the_current_one(sqlite_db: SessionMaker) -> None:
    """A wrong current password is refused; the right one changes it, keeps this browser in, ends the old cookie."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "ann@example.com")
        old_cookie = client.cookies["fastapiusersauth"]
        wrong = await submit(
            client, "/account/", "/account/password", {"current_password": "nope nope", "new_password": NEW_PASSWORD}
        )
        changed = await submit(
            client, "/account/", "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        still_in = await client.get(changed.headers["location"])
        client.cookies.set("fastapiusersauth", old_cookie)
        with_old_cookie = await client.get("/account/")

    assert wrong.status_code == 400
    assert 'data-code="CURRENT_PASSWORD_WRONG"' in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    assert NEW_PASSWORD not in wrong.text
    assert changed.status_code == 303
    assert changed.headers["location"] == "/account/?notice=password-changed"
    assert "Your other sessions were signed out" in still_in.text
    assert with_old_cookie.status_code == 303


async def test_refused_new_password_shows_the_reason(sqlite_db: SessionMaker) -> None:
    """A new password the policy refuses is named with the policy's reason."""
    test_app = pages_app(sqlite_db, app_options={"password_policy": DEFAULT_PASSWORD_POLICY})

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "ben@example.com")
        refused = await submit(
            client, "/account/", "/account/password", {"current_password": PASSWORD, "new_password": "short"}
        )

    assert refused.status_code == 400
    assert 'data-code="UPDATE_USER_INVALID_PASSWORD"' in refused.text


async def test_change_email(sqlite_db: SessionMaker) -> None:
    """Changing the address needs the password, refuses a taken one, and asks to verify the new one."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client, client_for(test_app) as other:
        await sign_up_and_in(other, "taken@example.com")
        await sign_up_and_in(client, "cleo@example.com")
        invalid = await submit(
            client, "/account/", "/account/email", {"email": "not-an-address", "current_password": PASSWORD}
        )
        wrong = await submit(
            client, "/account/", "/account/email", {"email": "new@example.com", "current_password": "wrong one"}
        )
        taken = await submit(
            client, "/account/", "/account/email", {"email": "taken@example.com", "current_password": PASSWORD}
        )
        changed = await submit(
            client, "/account/", "/account/email", {"email": "new@example.com", "current_password": PASSWORD}
        )
        account = await client.get("/account/")

    assert 'data-code="INVALID_EMAIL"' in invalid.text
    assert 'value="not-an-address"' in invalid.text
    assert 'data-code="CURRENT_PASSWORD_WRONG"' in wrong.text
    assert 'data-code="UPDATE_USER_EMAIL_ALREADY_EXISTS"' in taken.text
    assert changed.headers["location"] == "/account/?notice=email-changed"
    assert "new@example.com" in account.text
    assert test_app.hooks.last("on_after_request_verify")["user"].email == "new@example.com"


async def test_sessions_are_listed_and_ended(sqlite_db: SessionMaker) -> None:
    """With refresh on, the account page lists sessions and ends one or all the others."""
    test_app = mount_pages(refresh_app(sqlite_db, make_store("sql", sqlite_db, None)))

    async with client_for(test_app) as client, client_for(test_app) as laptop, client_for(test_app) as phone:
        await sign_up_and_in(client, "dan@example.com")
        for device in (laptop, phone):
            await submit(
                device, "/account/sign-in", "/account/sign-in", {"email": "dan@example.com", "password": PASSWORD}
            )
        listed = await client.get("/account/")
        unknown = await submit(client, "/account/", "/account/sessions/end", {"session_id": str(uuid.uuid4())})
        session_ids = [part.split('"')[0] for part in listed.text.split('name="session_id" value="')[1:]]
        ended_one = await submit(client, "/account/", "/account/sessions/end", {"session_id": session_ids[0]})
        ended_others = await submit(client, "/account/", "/account/sessions/end-others", {})
        after = await client.get("/account/")
        laptop_after = await laptop.get("/account/")
        phone_after = await phone.get("/account/")

    assert listed.text.count('class="uk-session"') == 3
    assert "this device" in listed.text
    assert len(session_ids) == 2
    assert unknown.status_code == 404
    assert 'data-code="SESSION_NOT_FOUND"' in unknown.text
    assert ended_one.headers["location"] == "/account/?notice=session-ended"
    assert ended_others.headers["location"] == "/account/?notice=sessions-ended"
    assert after.text.count('class="uk-session"') == 1
    assert (laptop_after.status_code, phone_after.status_code) == (303, 303)


async def test_linked_oauth_account_is_shown_and_unlinked(sqlite_db: SessionMaker) -> None:
    """A linked provider account shows on the account page and its button unlinks it."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "eli@example.com")
        async with sqlite_db() as session:
            user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
            user = await user_db.get_by_email("eli@example.com")
            assert user is not None
            await user_db.add_oauth_account(
                user,
                {"oauth_name": "github", "access_token": "t", "account_id": "gh-1", "account_email": "eli@example.com"},
            )
        listed = await client.get("/account/")
        unknown = await submit(
            client, "/account/", "/account/oauth/unlink", {"oauth_name": "github", "account_id": "x"}
        )
        unlinked = await submit(
            client, "/account/", "/account/oauth/unlink", {"oauth_name": "github", "account_id": "gh-1"}
        )
        after = await client.get("/account/")

    assert 'name="account_id" value="gh-1"' in listed.text
    assert unknown.status_code == 404
    assert 'data-code="OAUTH_ACCOUNT_NOT_LINKED"' in unknown.text
    assert unlinked.headers["location"] == "/account/?notice=oauth-unlinked"
    assert "No account from another provider is linked." in after.text


async def test_account_forms_need_a_signed_in_user(sqlite_db: SessionMaker) -> None:
    """Signed out, the account page and its forms send the browser to sign in."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        page = await client.get("/account/")
        token = form_token(await client.get("/account/sign-in"))
        posted = await client.post("/account/password", data={"csrf_token": token, "current_password": "x"})
        sign_out = await client.get("/account/sign-out")

    assert page.headers["location"] == "/account/sign-in"
    assert posted.headers["location"] == "/account/sign-in"
    assert sign_out.headers["location"] == "/account/sign-in"


async def test_wrong_current_passwords_are_throttled_like_logins(sqlite_db: SessionMaker) -> None:
    """A wrong current password counts as a failed login: once the account waits, the form answers 429."""
    throttle = LoginThrottle(free_failures=1, first_delay_seconds=30, max_delay_seconds=60, lockout_failures=5)
    security = SecuritySettings(rate_limit=RateLimitSettings(login_account=throttle))
    test_app = pages_app(sqlite_db, app_options={"security": security})
    wrong = {"current_password": "nope nope", "new_password": NEW_PASSWORD}

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "gil@example.com")
        answers = [await submit(client, "/account/", "/account/password", wrong) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [400, 429]
    assert 'data-code="CURRENT_PASSWORD_WRONG"' in answers[0].text
    assert answers[1].headers["retry-after"] == "30"
    assert "Too many attempts. Please wait" in answers[1].text
