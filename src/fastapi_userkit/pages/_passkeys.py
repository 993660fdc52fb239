"""Passkeys on the account pages (issue 19, item 6): sign in, manage, confirm it's you.

Offered when the app gives the pages a passkey service (``get_pages_router(...,
get_passkey_service=...)``). A small script the router serves itself (``userkit-passkeys.js``:
no CDN, no build step, no dependency) runs the browser's half of each WebAuthn ceremony:

1. it posts the passkey form's fields (its CSRF token among them) to the form's *options*
   endpoint, which answers the ceremony's options as JSON (``Cache-Control: no-store``);
2. it hands them to ``navigator.credentials.create()`` or ``.get()``;
3. it puts the credential's JSON in the form's hidden ``credential`` field and sends the form the
   ordinary way. The page endpoint checks the form's CSRF token, verifies the credential through
   :class:`~fastapi_userkit.passkeys.PasskeyService` and answers like every other form: a redirect,
   or the page again with the error in plain words (never a ``500``, whatever the field holds).

The passkey forms carry ``hidden`` until the script sees ``window.PublicKeyCredential``: without
WebAuthn or without JavaScript they stay hidden and every other form works as before. The pages'
Content-Security-Policy gains ``script-src 'self'`` and ``connect-src 'self'`` only (no inline
script anywhere).

A passkey sign-in goes through the sign-in service as the password sign-in does
(:class:`~fastapi_userkit._services.sign_in.SignIn`): same cookie backend, session and events.
With user verification it is two factors in one (AAL2, NIST SP 800-63B 4.2.1); without it, a
user with a second factor gets the pages' second step, as after a password.

Adding, renaming and deleting a passkey follow the JSON routes' freshness rule: a sign-in at most
``fresh_within`` seconds old (300 by default), and with two-factor login a fresh two-factor
sign-in for a user with a factor (T43). A stale session goes through "confirm it's you" first,
which a passkey can answer too. Listing needs no fresh sign-in: the account page shows the
passkeys' names and dates, no key material.
"""

from fastapi import APIRouter, Response

from fastapi_userkit.pages._passkey_account import add_confirm, add_management, add_password_confirm, add_set_password
from fastapi_userkit.pages._passkey_forms import (
    PASSKEY_PAGES,
    SIGN_UP_PAGES,
    PasskeyPages,
    PasskeysView,
    passkeys_script_text,
)
from fastapi_userkit.pages._passkey_hooks import PasskeyHooks
from fastapi_userkit.pages._passkey_sign_in import add_second_step, add_sign_in, add_sign_up

__all__ = ["PASSKEY_PAGES", "PasskeyPages", "PasskeysView", "add_passkey_pages", "add_second_step"]


def add_passkey_pages(router: APIRouter, pages: PasskeyPages, *, confirm_page: bool, sign_up: bool) -> PasskeyHooks:
    """Add the passkey endpoints and the script to ``router``; return the account page's hook.

    Args:
        router: The pages router.
        pages: The passkey parts.
        confirm_page: Also add ``/confirm`` ("confirm it's you" with the password), for an app
            without two-factor login, whose pages have none of their own.
        sign_up: Also offer "Create an account with a passkey".
    """
    script = passkeys_script_text()

    @router.get("/userkit-passkeys.js", name="pages:passkeys_script")
    async def passkeys_script() -> Response:
        return Response(
            script,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    add_sign_in(router, pages)
    if sign_up:
        add_sign_up(router, pages)
        pages.site.optional_pages.extend(SIGN_UP_PAGES)
    add_management(router, pages)
    add_set_password(router, pages)
    add_confirm(router, pages)
    if confirm_page:
        add_password_confirm(router, pages)
    pages.site.optional_pages.extend(PASSKEY_PAGES)
    return PasskeyHooks(get_view=pages.get_view())
