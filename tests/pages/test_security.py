"""CSRF protection of every form, safe ``next`` redirects, and throttled sign-in."""

from __future__ import annotations

import pytest

from fastapi_userkit.pages import safe_next
from fastapi_userkit.security import FlowLimits, Limit, RateLimitSettings, SecuritySettings
from tests.conftest import SessionMaker
from tests.pages.support import PASSWORD, client_for, form_token, pages_app, sign_up_and_in, submit

REFUSED_NEXT = [
    "//evil.com",
    "https://evil.com",
    "/\\evil.com",
    "javascript:alert(1)",
    "/\t/evil.com",
    "/\n/evil.com",
    "http:/evil.com",
    "",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", REFUSED_NEXT)
def test_safe_next_refuses_anything_but_a_local_path(target: str) -> None:
    """Absolute, scheme-relative, backslash, script and whitespace tricks fall back to the default."""
    assert safe_next(target, "/account/") == "/account/"


@pytest.mark.parametrize("target", ["/", "/dashboard?tab=1#top", "/a/b%2F/c"])
def test_safe_next_keeps_local_paths(target: str) -> None:
    """A path of this site is kept as it is."""
    assert safe_next(target, "/account/") == target


async def test_sign_in_ignores_an_open_redirect_next(sqlite_db: SessionMaker) -> None:
    """``next=//evil.com`` lands on the account page; a local ``next`` is followed."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "eve@example.com")
        client.cookies.clear()
        page = await client.get("/account/sign-in?next=//evil.com")
        evil = await client.post(
            "/account/sign-in",
            data={
                "csrf_token": form_token(page),
                "email": "eve@example.com",
                "password": PASSWORD,
                "next": "//evil.com",
            },
        )
        client.cookies.clear()
        local = await submit(
            client,
            "/account/sign-in",
            "/account/sign-in",
            {"email": "eve@example.com", "password": PASSWORD, "next": "/account/sign-out"},
        )

    assert 'name="next" value="/account/"' in page.text
    assert evil.headers["location"] == "/account/"
    assert local.headers["location"] == "/account/sign-out"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"origin": "https://evil.example"}, "CSRF_CROSS_SITE_REQUEST"),
        ({"sec-fetch-site": "cross-site"}, "CSRF_CROSS_SITE_REQUEST"),
        ({"origin": "null"}, "CSRF_CROSS_SITE_REQUEST"),
    ],
)
async def test_cross_site_form_is_refused(sqlite_db: SessionMaker, headers: dict[str, str], code: str) -> None:
    """A form another site submits gets 403, even with a valid token, and changes nothing."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "bob@example.com")
        page = await client.get("/account/")
        forged = await client.post(
            "/account/email",
            data={"csrf_token": form_token(page), "email": "mallory@example.com", "current_password": PASSWORD},
            headers=headers,
        )
        account = await client.get("/account/")

    assert forged.status_code == 403
    assert f'data-code="{code}"' in forged.text
    assert "bob@example.com" in account.text


@pytest.mark.parametrize("token", [None, "", "garbage", "a.b"])
async def test_form_without_a_valid_token_is_refused(sqlite_db: SessionMaker, token: str | None) -> None:
    """A same-origin form with a missing or wrong token gets 403 CSRF_TOKEN_INVALID."""
    test_app = pages_app(sqlite_db)
    data = {"email": "x@example.com", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token

    async with client_for(test_app) as client:
        await client.get("/account/sign-up")
        refused = await client.post("/account/sign-up", data=data)

    assert refused.status_code == 403
    assert 'data-code="CSRF_TOKEN_INVALID"' in refused.text
    assert "on_after_register" not in test_app.hooks.names()


async def test_token_of_another_session_is_refused(sqlite_db: SessionMaker) -> None:
    """A token is bound to the session cookie it was rendered for: the same nonce under another session fails."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client, client_for(test_app) as other:
        signed_out_token = form_token(await client.get("/account/sign-in"))
        await sign_up_and_in(client, "carol@example.com")
        carol_token = form_token(await client.get("/account/"))
        await sign_up_and_in(other, "dave@example.com")
        client.cookies.set("fastapiusersauth", other.cookies["fastapiusersauth"])
        with_carols_token = await client.post("/account/sign-out", data={"csrf_token": carol_token})
        with_signed_out_token = await client.post("/account/sign-out", data={"csrf_token": signed_out_token})
        accepted = await client.post(
            "/account/sign-out", data={"csrf_token": form_token(await client.get("/account/"))}
        )

    assert with_carols_token.status_code == 403
    assert with_signed_out_token.status_code == 403
    assert accepted.status_code == 303


async def test_failed_sign_ins_are_throttled(sqlite_db: SessionMaker) -> None:
    """Past the per-IP limit, the sign-in page answers 429 with Retry-After and a plain message."""
    security = SecuritySettings(rate_limit=RateLimitSettings(login_ip=Limit(2, 60), login_account=None))
    test_app = pages_app(sqlite_db, app_options={"security": security})
    wrong = {"email": "nobody@example.com", "password": "not the password"}

    async with client_for(test_app) as client:
        answers = [await submit(client, "/account/sign-in", "/account/sign-in", wrong) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert "retry-after" in answers[2].headers
    assert "Too many attempts. Please wait" in answers[2].text


POST_ROUTES = [
    "/account/sign-in",
    "/account/sign-up",
    "/account/sign-out",
    "/account/forgot-password",
    "/account/resend-verification",
    "/account/reset-password",
    "/account/verify",
    "/account/email",
    "/account/password",
    "/account/sessions/end",
    "/account/sessions/end-others",
    "/account/oauth/unlink",
]


@pytest.mark.parametrize("action", POST_ROUTES)
async def test_every_form_refuses_a_missing_token(sqlite_db: SessionMaker, action: str) -> None:
    """Each form handler, signed in or not, answers 403 to a post without its token."""
    test_app = pages_app(sqlite_db)

    async with client_for(test_app) as client:
        await sign_up_and_in(client, "form@example.com")
        refused = await client.post(action, data={"email": "form@example.com", "password": PASSWORD})

    assert refused.status_code == 403
    assert 'data-code="CSRF_TOKEN_INVALID"' in refused.text


async def test_e_mail_forms_are_throttled(sqlite_db: SessionMaker) -> None:
    """Past the forgot-password limit, the form answers 429 in plain words."""
    limits = FlowLimits(per_ip=Limit(1, 60))
    security = SecuritySettings(rate_limit=RateLimitSettings(forgot_password=limits))
    test_app = pages_app(sqlite_db, app_options={"security": security})
    form = {"email": "someone@example.com"}

    async with client_for(test_app) as client:
        answers = [await submit(client, "/account/forgot-password", "/account/forgot-password", form) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [200, 429]
    assert "Too many attempts" in answers[1].text
