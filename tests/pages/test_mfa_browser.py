"""Two-factor sign-in in headless Chromium, on the demo's pages under uvicorn (issue 18, item 7).

The test is the user and their phone: it reads the key the enrolment page shows as text and
computes the codes with pyotp, as an authenticator app would.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.pages.browser import SCREENSHOTS, Demo, launch_chromium, running_demo

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a fresh and longer passphrase"
FRESH_WITHIN = 3
"""The demo's freshness window for this test (seconds): short, so the test can outwait it."""
STEP = 30


class Phone:
    """An authenticator app: the code of a time step the server has not accepted yet."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last: int | None = None

    def code(self) -> str:
        """A code the server accepts now: this step's, or the next one's (its window is one step)."""
        while True:
            current = int(time.time()) // STEP
            if self.last is None or self.last < current:
                step = current
            elif self.last == current:
                step = current + 1
            else:  # both usable steps are spent: wait for the next one
                time.sleep(0.5)
                continue
            self.last = step
            return self.totp.at(step * STEP)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo app with a short freshness window, on a fresh SQLite file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("USERKIT_DEMO_STEP_UP_WITHIN", str(FRESH_WITHIN))
        with running_demo(tmp_path_factory.mktemp("mfa-demo")) as running:
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
    context = browser.new_context(
        base_url=demo.base_url, viewport={"width": 1000, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, email: str, password: str) -> None:
    """Fill and send the sign-in form."""
    page.goto("/account/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Page) -> None:
    """Sign out from the account page."""
    page.goto("/account/")
    page.get_by_role("main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")


def second_step(page: Page, code: str) -> None:
    """Answer the second-step page."""
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert "challenge" not in page.url
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Continue").click()


def test_enrol_sign_in_recover_and_confirm(page: Page, demo: Demo, tmp_path: Path) -> None:
    """Enrol from the QR page, sign in with a code and with a recovery code, confirm a password change."""
    email = f"mfa-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/account/sign-up")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    sign_in(page, email, PASSWORD)
    expect(page).to_have_url(f"{demo.base_url}/account/")

    # Enrolment: the QR code inline, the key as text, a first code, the recovery codes once.
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator(".uk-qr svg")).to_be_visible()
    shot(page, "mfa_enrol")
    phone = Phone("".join(page.locator("#uk-totp-secret").inner_text().split()))
    page.get_by_label("Code from the app").fill(phone.code())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#uk-recovery-codes").inner_text().split()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the codes").click()
    saved = tmp_path / "codes.txt"
    download.value.save_as(saved)
    shot(page, "mfa_recovery_codes")
    assert len(codes) == 10
    assert saved.read_text().split() == codes

    page.goto("/account/")
    expect(page.locator(".uk-recovery-left")).to_have_text("10")
    sign_out(page)

    # The password alone leads to the second step; the code signs in.
    sign_in(page, email, PASSWORD)
    shot(page, "mfa_second_step")
    second_step(page, phone.code())
    expect(page).to_have_url(f"{demo.base_url}/account/")
    sign_out(page)

    # A recovery code signs in once.
    sign_in(page, email, PASSWORD)
    second_step(page, codes[0])
    expect(page).to_have_url(f"{demo.base_url}/account/")
    expect(page.locator(".uk-recovery-left")).to_have_text("9")

    # Once the sign-in is no longer fresh, a password change asks to confirm it's you first.
    time.sleep(FRESH_WITHIN + 1.5)
    page.locator("#uk-current-password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    shot(page, "mfa_confirm")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code").fill(phone.code())
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page).to_have_url(f"{demo.base_url}/account/?notice=confirmed")
    page.locator("#uk-current-password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    sign_out(page)

    sign_in(page, email, NEW_PASSWORD)
    second_step(page, codes[1])
    expect(page).to_have_url(f"{demo.base_url}/account/")
