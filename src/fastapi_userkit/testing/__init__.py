"""A pytest plugin for an application's own tests: ``pytest_plugins = ["fastapi_userkit.testing"]``.

The application hands the plugin what it needs by overriding one fixture (the plugin assumes no
module names), in its ``conftest.py``::

    @pytest.fixture
    def userkit_app() -> UserkitTestApp:
        return UserkitTestApp(app=app, fastapi_users=fastapi_users, account_mailer=account_mailer, engine=engine)

Fixtures:

- ``make_user``: ``await make_user(email=..., password=..., is_active=..., is_verified=...,
  is_superuser=...)`` creates a user through the app's own user-manager dependency;
- ``auth_client``: ``await auth_client(user, backend="cookie")`` an ``httpx.AsyncClient`` logged
  in through the app's login route (bearer header, or cookies with the CSRF headers a browser sends);
- ``outbox``: every e-mail the account mailer sends, with ``links``, ``verify_token`` and ``reset_token``;
- ``clock``: a :class:`FrozenClock` with ``advance()``, for the app's strategies and settings;
- ``reset_throttling``: empties the rate-limit counters (SQL table or Redis keys) before the test,
  and again when awaited;
- ``enrol_totp``: ``await enrol_totp(user)`` enrols and confirms the user's TOTP factor (apps with
  ``FastAPIUsers(mfa=...)``) and gives a :class:`TOTPDevice` whose ``code()`` is the next unused
  code; ``auth_client`` answers such a user's login challenge with it.

PYTEST_DONT_REWRITE: pytest rewrites the asserts of a plugin module it imports itself, and
warns (an error under ``filterwarnings = error``) when the module was imported first, as an
app's ``conftest.py`` does when it imports :class:`UserkitTestApp` above its ``pytest_plugins``.
The plugin raises its own ``AssertionError`` messages, so it has nothing to rewrite.
"""

from fastapi_userkit.testing._app import UserkitTestApp, resolve_dependency
from fastapi_userkit.testing._clock import FrozenClock
from fastapi_userkit.testing._mfa import TOTPDevice
from fastapi_userkit.testing._outbox import CapturedEmail, Outbox
from fastapi_userkit.testing.plugin import (
    AuthClientFactory,
    ThrottleReset,
    TOTPEnrol,
    UserFactory,
    auth_client,
    clock,
    enrol_totp,
    make_user,
    outbox,
    reset_throttling,
    userkit_app,
    userkit_passwords,
    userkit_totp_devices,
)

__all__ = [
    "AuthClientFactory",
    "CapturedEmail",
    "FrozenClock",
    "Outbox",
    "TOTPDevice",
    "TOTPEnrol",
    "ThrottleReset",
    "UserFactory",
    "UserkitTestApp",
    "auth_client",
    "clock",
    "enrol_totp",
    "make_user",
    "outbox",
    "reset_throttling",
    "resolve_dependency",
    "userkit_app",
    "userkit_passwords",
    "userkit_totp_devices",
]
