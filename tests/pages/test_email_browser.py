"""Sign-in by e-mail and the confirmed e-mail change in headless Chromium, on the demo under uvicorn (issue 20).

The test is the user and their two mailboxes: it reads the links from the e-mails the demo's
console mailer prints into its log, and opens them in the browser.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.pages.browser import SCREENSHOTS, Demo, launch_chromium, running_demo
from tests.pages.support import printed_mails

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
_CODE = re.compile(r"enter this code in the app:\s+(\S+)")


def sign_in_codes(demo: Demo, to: str) -> list[str]:
    """The codes of the sign-in e-mails to ``to`` the demo printed so far, oldest first."""
    codes: list[str] = []
    for message in printed_mails(demo.log_path.read_text(errors="replace")):
        body = message.get_body(preferencelist=("plain",))
        if to in str(message["To"]) and body is not None:
            codes.extend(_CODE.findall(str(body.get_content())))
    return codes


def next_code(demo: Demo, to: str, seen: int, *, timeout: float = 15.0) -> str:
    """The code of the first sign-in e-mail to ``to`` after the ``seen`` ones, waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = sign_in_codes(demo, to)
        if len(codes) > seen:
            return codes[seen]
        time.sleep(0.1)
    raise AssertionError(f"no new sign-in code for {to}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo app on a fresh SQLite file."""
    with running_demo(tmp_path_factory.mktemp("email-demo")) as running:
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


def test_sign_in_by_link_then_change_confirm_and_revert(page: Page, demo: Demo) -> None:
    """Sign in by the e-mailed link; change the address, confirm it from the new one, revert it from the old one."""
    email = f"mail-{uuid.uuid4().hex[:8]}@example.com"
    new_email = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/account/sign-up")
    page.locator("#uk-email").fill(email)
    page.locator("#uk-password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    # "E-mail me a sign-in link": the same neutral page, then the link's page and its button.
    page.get_by_role("link", name="E-mail me a sign-in link").click()
    page.locator("#uk-email").fill(email)
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    shot(page, "email_sign_in_sent")
    page.goto(demo.link(email, "/account/email-login/verify"))
    expect(page.get_by_role("heading", name="Sign in by e-mail")).to_be_visible()
    shot(page, "email_sign_in_link")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{demo.base_url}/account/?notice=password-cleared")
    expect(page.locator(".uk-identity")).to_contain_text(email)
    expect(page.get_by_role("status").first).to_contain_text("no longer works")

    # The first e-mail sign-in of a never-verified account drops the password someone may have
    # registered it with: the recent sign-in stands in for it. The change waits for the new address.
    expect(page.locator("#uk-email-current-password")).to_have_count(0)
    page.get_by_label("New e-mail address").fill(new_email)
    page.get_by_role("button", name="Change e-mail address").click()
    expect(page.locator(".uk-pending-email")).to_have_text(new_email)
    expect(page.locator(".uk-identity")).to_contain_text(email)
    shot(page, "email_change_pending")

    # The new address confirms (the page's button, not the link, changes it).
    page.goto(demo.link(new_email, "/account/email/confirm"))
    page.get_by_role("button", name="Confirm my new address").click()
    expect(page.get_by_role("status")).to_contain_text(f"Your e-mail address is now {new_email}")
    page.goto("/account/")
    expect(page.locator(".uk-identity")).to_contain_text(new_email)

    # The old address says "this was not me": the address comes back and every session ends.
    page.goto(demo.link(email, "/account/email/revert"))
    shot(page, "email_change_revert")
    page.get_by_role("button", name="This was not me: undo the change").click()
    expect(page.get_by_role("status")).to_contain_text(email)
    expect(page.get_by_role("main")).to_contain_text("Every session of your account was signed out")
    page.goto("/account/")
    expect(page).to_have_url(f"{demo.base_url}/account/sign-in")

    # The old address signs in again (by e-mail: the code this time).
    seen = len(sign_in_codes(demo, email))
    page.get_by_role("link", name="E-mail me a sign-in link").click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    page.get_by_label("Code from the e-mail").fill(next_code(demo, email, seen))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{demo.base_url}/account/")
    expect(page.locator(".uk-identity")).to_contain_text(email)
