"""End to end in headless Chromium: the demo app's account pages under uvicorn, as a user clicks them.

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright for Python; no browser is
downloaded. Screenshots of every page land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.pages.browser import SCREENSHOTS, Demo, attacker_site, launch_chromium, running_demo

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a fresh and longer passphrase"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo app on a free port, with a fresh SQLite file, for the whole module."""
    with running_demo(tmp_path_factory.mktemp("demo")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    """A fresh browser profile (no cookies) on the demo."""
    context = browser.new_context(base_url=demo.base_url, viewport={"width": 1000, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_up(page: Page, email: str, password: str = PASSWORD) -> None:
    """Create an account through the sign-up page."""
    page.goto("/account/sign-up")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("Your account is created")


def sign_in(page: Page, email: str, password: str, path: str = "/account/sign-in") -> None:
    """Fill and send the sign-in form."""
    page.goto(path)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def new_email() -> str:
    """A fresh address."""
    return f"user-{uuid.uuid4().hex[:8]}@example.com"


def test_sign_up_verify_sign_in_change_password_sign_out(page: Page, demo: Demo) -> None:
    """A new user signs up, verifies from the e-mailed link, signs in, changes the password and signs out."""
    email = new_email()
    page.goto("/account/sign-up")
    shot(page, "sign_up")
    sign_up(page, email)
    shot(page, "sign_in_after_sign_up")

    page.goto(demo.link(email, "/account/verify"))
    expect(page.get_by_role("heading", name="Verify your e-mail address")).to_be_visible()
    shot(page, "verify")
    page.get_by_role("button", name="Confirm my e-mail address").click()
    expect(page.get_by_role("status")).to_contain_text("Your e-mail address is verified")

    sign_in(page, email, PASSWORD)
    expect(page).to_have_url(f"{demo.base_url}/account/")
    expect(page.locator(".uk-identity")).to_contain_text(email)
    expect(page.locator(".uk-identity")).to_contain_text("verified")
    shot(page, "account")

    page.locator("#uk-current-password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")

    page.goto("/account/sign-out")
    shot(page, "sign_out")
    page.get_by_role("main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")
    page.goto("/account/")
    expect(page).to_have_url(f"{demo.base_url}/account/sign-in")

    sign_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url(f"{demo.base_url}/account/")


def test_wrong_password_message(page: Page) -> None:
    """A wrong password is named in plain words, next to a kept e-mail address and an empty password field."""
    email = new_email()
    sign_up(page, email)

    sign_in(page, email, "not my password at all")

    expect(page.get_by_role("alert")).to_contain_text("The e-mail address or the password is not correct.")
    expect(page.get_by_label("E-mail address")).to_have_value(email)
    expect(page.get_by_label("Password")).to_have_value("")
    shot(page, "sign_in_error")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "sign_in_error_mobile")


def test_forgot_and_reset_password(page: Page, demo: Demo) -> None:
    """Forgot password e-mails a link whose page sets a new password; signing in with it works."""
    email = new_email()
    sign_up(page, email)
    page.goto("/account/forgot-password")
    shot(page, "forgot_password")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("status")).to_contain_text("we sent it a link")

    page.goto(demo.link(email, "/account/reset-password"))
    shot(page, "reset_password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save my new password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")

    sign_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url(f"{demo.base_url}/account/")
    page.goto("/account/resend-verification")
    shot(page, "resend_verification")


def test_forged_cross_site_form_is_refused(page: Page, demo: Demo) -> None:
    """A page on another site that auto-submits a form to the app gets 403; the account is unchanged."""
    email = new_email()
    sign_up(page, email)
    sign_in(page, email, PASSWORD)
    expect(page).to_have_url(f"{demo.base_url}/account/")
    target = f"{demo.base_url}/account/email"

    with attacker_site(target, {"email": "mallory@example.com", "current_password": PASSWORD}) as attacker:
        with page.expect_response(target) as answer:
            page.goto(attacker)
        page.wait_for_load_state()

    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("This form was sent from another site")
    shot(page, "csrf_refused")
    page.goto("/account/")
    expect(page.locator(".uk-identity")).to_contain_text(email)


def test_open_redirect_is_refused(page: Page, demo: Demo) -> None:
    """Signing in from a link with a foreign ``next`` lands on this site's account page; a local one is followed."""
    email = new_email()
    sign_up(page, email)

    for target in ("//evil.example/", "https://evil.example/", "/%5Cevil.example", "javascript:alert(1)"):
        page.context.clear_cookies()
        sign_in(page, email, PASSWORD, path=f"/account/sign-in?next={target}")
        expect(page).to_have_url(f"{demo.base_url}/account/")
    page.context.clear_cookies()
    sign_in(page, email, PASSWORD, path="/account/sign-in?next=/account/sign-out")
    expect(page).to_have_url(f"{demo.base_url}/account/sign-out")
