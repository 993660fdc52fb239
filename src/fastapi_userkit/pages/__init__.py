"""Ready-made account pages: server-rendered, overridable template by template (new in fastapi-userkit).

::

    app.include_router(
        fastapi_users.get_pages_router(cookie_backend, secret=PAGES_SECRET), prefix="/account"
    )

Sign in, sign up, sign out, forgot and reset password, verify e-mail, resend verification and
an account page (e-mail, password, sessions, linked OAuth accounts), on a cookie backend, with
CSRF protection on every form. Plain HTML forms: no JavaScript, no build step. Jinja2 comes with
the ``pages`` extra: ``pip install 'fastapi-userkit[pages]'``. With passkeys
(``get_passkey_service=``), a small script the router serves runs the WebAuthn ceremonies; every
other form still works without it.
"""

from fastapi_userkit.pages._redirect import safe_next
from fastapi_userkit.pages._render import PAGE_TEMPLATES
from fastapi_userkit.pages._site import PAGE_NAMES, OAuthProvider
from fastapi_userkit.pages.router import get_pages_router

__all__ = ["PAGE_NAMES", "PAGE_TEMPLATES", "OAuthProvider", "get_pages_router", "safe_next"]
