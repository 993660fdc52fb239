"""Passkeys in headless Chromium, on the demo's pages under uvicorn (issue 19, item 6).

The Chrome DevTools Protocol's virtual authenticator (``WebAuthn.addVirtualAuthenticator``: CTAP2,
internal transport, resident keys, user verification) stands in for the device's platform
authenticator, so the pages' script runs the real ``navigator.credentials`` calls. The demo is
opened on ``localhost``: an IP address cannot be a WebAuthn RP id, and the demo's passkey origin
is the localhost form of its address.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect, sync_playwright

from tests.pages.browser import SCREENSHOTS, Demo, launch_chromium, running_demo

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo app on a fresh SQLite file."""
    with running_demo(tmp_path_factory.mktemp("passkey-demo")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


class Device:
    """A browser profile with its own platform authenticator (a virtual one, over CDP)."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.context: BrowserContext = browser.new_context(base_url=base_url, viewport={"width": 1000, "height": 900})
        self.context.set_default_timeout(15_000)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.cdp: CDPSession = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable")
        self.authenticator_id = self.plug_in("internal")

    def plug_in(self, transport: str) -> str:
        """Add an authenticator: the platform's (``internal``) or a security key (``usb``)."""
        options = {
            "protocol": "ctap2",
            "transport": transport,
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        added: dict[str, Any] = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        return str(added["authenticatorId"])

    def swap_authenticator(self, transport: str) -> None:
        """Take the current authenticator away and put another one in its place."""
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.authenticator_id})
        self.authenticator_id = self.plug_in(transport)

    def credentials(self) -> list[dict[str, Any]]:
        """The passkeys this device's authenticator holds."""
        found: dict[str, Any] = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})
        return list(found["credentials"])

    def close(self) -> None:
        """Close the profile."""
        self.context.close()


@pytest.fixture
def devices(browser: Browser, demo: Demo) -> Iterator[list[Device]]:
    """Make devices on the demo's localhost address; all closed at the end."""
    made: list[Device] = []
    yield made
    for device in made:
        device.close()


def localhost(demo: Demo) -> str:
    """The demo's address with localhost for 127.0.0.1 (its passkey origin)."""
    return demo.base_url.replace("127.0.0.1", "localhost")


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_up_and_in(page: Page, email: str) -> None:
    """Create an account with a password and sign in with it."""
    page.goto("/account/sign-up")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    password_sign_in(page, email)


def password_sign_in(page: Page, email: str) -> None:
    """Fill and send the sign-in form."""
    page.goto("/account/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Page) -> None:
    """Sign out from the account page."""
    page.goto("/account/")
    page.get_by_role("main").get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")


def add_passkey(page: Page, name: str) -> None:
    """Add a passkey from the account page."""
    page.goto("/account/")
    page.get_by_label("Name for the new passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_contain_text("Your passkey is added")


def test_add_sign_in_and_add_another(browser: Browser, demo: Demo, devices: list[Device]) -> None:
    """A passkey added on the account page signs in with no e-mail typed; a second device adds its own."""
    email = f"passkey-{uuid.uuid4().hex[:8]}@example.com"
    laptop = Device(browser, localhost(demo))
    devices.append(laptop)
    page = laptop.page

    sign_up_and_in(page, email)
    expect(page).to_have_url(f"{localhost(demo)}/account/")
    add_passkey(page, "Laptop")
    expect(page.locator(".uk-passkey-name")).to_have_text(["Laptop"])
    shot(page, "passkeys_account")
    assert len(laptop.credentials()) == 1
    assert laptop.credentials()[0]["isResidentCredential"] is True
    sign_out(page)

    # The sign-in page shows the button (WebAuthn is there); no e-mail typed.
    page.goto("/account/sign-in")
    shot(page, "passkeys_sign_in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(f"{localhost(demo)}/account/")
    expect(page.locator(".uk-identity")).to_contain_text(email)
    expect(page.locator(".uk-hint", has_text="last used")).to_have_count(1)

    # A second device: its own authenticator, its own passkey.
    phone = Device(browser, localhost(demo))
    devices.append(phone)
    password_sign_in(phone.page, email)
    add_passkey(phone.page, "Phone")
    expect(phone.page.locator(".uk-passkey-name")).to_have_text(["Laptop", "Phone"])
    sign_out(phone.page)
    phone.page.goto("/account/sign-in")
    phone.page.get_by_role("button", name="Sign in with a passkey").click()
    expect(phone.page.locator(".uk-identity")).to_contain_text(email)


def test_sign_up_with_a_passkey_sign_in_and_add_a_second(browser: Browser, demo: Demo, devices: list[Device]) -> None:
    """An account made with a passkey alone: sign out, sign in with no e-mail typed, add a security key, use it."""
    email = f"passwordless-{uuid.uuid4().hex[:8]}@example.com"
    laptop = Device(browser, localhost(demo))
    devices.append(laptop)
    page = laptop.page

    page.goto("/account/sign-up")
    shot(page, "passkeys_sign_up")
    page.locator("#uk-passkey-email").fill(email)
    page.get_by_role("button", name="Create an account with a passkey").click()
    expect(page).to_have_url(f"{localhost(demo)}/account/")
    expect(page.locator(".uk-identity")).to_contain_text(email)
    expect(page.locator(".uk-passkey-name")).to_have_text(["Passkey"])
    assert laptop.credentials()[0]["isResidentCredential"] is True
    sign_out(page)

    page.goto("/account/sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator(".uk-identity")).to_contain_text(email)

    # The laptop's authenticator already holds a passkey for this account (it would decline a
    # second one): a security key is plugged in instead.
    laptop.swap_authenticator("usb")
    add_passkey(page, "Security key")
    expect(page.locator(".uk-passkey-name")).to_have_text(["Passkey", "Security key"])
    sign_out(page)
    page.goto("/account/sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator(".uk-identity")).to_contain_text(email)
    expect(page.locator(".uk-hint", has_text="last used")).to_have_count(2)
    assert laptop.errors == []


def test_a_passkey_as_the_second_factor(browser: Browser, demo: Demo, devices: list[Device]) -> None:
    """A password account with an authenticator app and a passkey: after the password, the passkey signs in."""
    email = f"second-{uuid.uuid4().hex[:8]}@example.com"
    laptop = Device(browser, localhost(demo))
    devices.append(laptop)
    page = laptop.page

    sign_up_and_in(page, email)
    add_passkey(page, "Laptop")
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    page.get_by_role("button", name="Set up an authenticator app").click()
    secret = "".join(page.locator("#uk-totp-secret").inner_text().split())
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    sign_out(page)

    password_sign_in(page, email)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    shot(page, "passkeys_second_step")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(f"{localhost(demo)}/account/")
    expect(page.locator(".uk-identity")).to_contain_text(email)
    assert laptop.errors == []


def test_without_webauthn_the_buttons_stay_hidden(browser: Browser, demo: Demo) -> None:
    """A browser without WebAuthn (or without JavaScript) sees no passkey button; the password form works."""
    context = browser.new_context(base_url=localhost(demo), java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/account/sign-in")
        hidden_without_script = page.get_by_role("button", name="Sign in with a passkey").is_hidden()
    finally:
        context.close()
    context = browser.new_context(base_url=localhost(demo))
    try:
        page = context.new_page()
        page.add_init_script("delete window.PublicKeyCredential")
        page.goto("/account/sign-in")
        hidden_without_webauthn = page.get_by_role("button", name="Sign in with a passkey").is_hidden()
        page.goto("/account/sign-in")
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.reload()
    finally:
        context.close()

    assert hidden_without_script
    assert hidden_without_webauthn
    assert errors == []
