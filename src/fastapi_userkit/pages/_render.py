"""Template lookup and rendering, with the security headers every page carries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Response
from fastapi.responses import HTMLResponse

__all__ = ["PAGE_TEMPLATES", "PageRenderer", "stylesheet_text"]

PAGE_TEMPLATES = (
    "userkit/base.html",
    "userkit/sign_in.html",
    "userkit/sign_up.html",
    "userkit/sign_out.html",
    "userkit/forgot_password.html",
    "userkit/reset_password.html",
    "userkit/verify.html",
    "userkit/resend_verification.html",
    "userkit/account.html",
    "userkit/message.html",
    "userkit/_forms.html",
    # With two-factor login (issue 18): the second step, "confirm it's you", the factor's pages.
    "userkit/sign_in_code.html",
    "userkit/reauthenticate.html",
    "userkit/two_factor.html",
    "userkit/two_factor_enrol.html",
    "userkit/two_factor_codes.html",
    # With e-mail sign-in and the confirmed e-mail change (issue 20).
    "userkit/email_sign_in.html",
    "userkit/email_sign_in_sent.html",
    "userkit/email_sign_in_link.html",
    "userkit/email_change_confirm.html",
    "userkit/email_change_revert.html",
    # With passkeys (issue 19): the passkey forms the sign-in, sign-up and account pages import.
    "userkit/_passkeys.html",
)
"""Every template the pages use; each can be overridden on its own through ``template_dirs``."""


def stylesheet_text() -> str:
    """The built-in stylesheet."""
    return resources.files("fastapi_userkit.pages").joinpath("static/userkit.css").read_text(encoding="utf-8")


def _style_sources(stylesheets: Sequence[str]) -> str:
    origins = []
    for url in stylesheets:
        parts = urlsplit(url)
        if parts.scheme in {"http", "https"} and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return " ".join(["'self'", *sorted(set(origins))])


class PageRenderer:
    """Renders the page templates: the app's directories first, then the built-in ones.

    Args:
        template_dirs: Directories searched before the built-in templates; a file there named
            like a built-in one (``userkit/sign_in.html``) replaces it, and may ``{% extends %}``
            the built-in base layout.
        stylesheets: Stylesheet URLs linked after the built-in one.
        globals: Values every template sees (``app_name``...).
        scripts: Whether the pages load the router's own script (passkeys): the policy then allows
            scripts and ``fetch`` from the pages' origin, still no inline script.
    """

    def __init__(
        self,
        template_dirs: Sequence[str | Path],
        stylesheets: Sequence[str],
        globals: Mapping[str, Any],
        *,
        scripts: bool = False,
    ) -> None:
        loader = jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader([str(path) for path in template_dirs]),
                jinja2.PackageLoader("fastapi_userkit.pages", "templates"),
            ]
        )
        # Autoescaping everywhere: every value shown may come from a user (XSS, ASVS 5.0 1.2.1).
        self.environment = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True)
        self.environment.globals.update(globals)
        # No inline script or style anywhere: the policy can forbid both (ASVS 5.0 3.4.3). The
        # passkey script is a file of the router's, on the pages' origin (issue 19).
        script_sources = "script-src 'self'; connect-src 'self'; " if scripts else ""
        self.content_security_policy = (
            f"default-src 'none'; {script_sources}style-src {_style_sources(stylesheets)}; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )

    def render(self, name: str, context: Mapping[str, Any], status_code: int = 200) -> Response:
        """Render template ``name`` into an HTML response with the pages' security headers."""
        html = self.environment.get_template(name).render(context)
        response = HTMLResponse(html, status_code=status_code)
        self.protect(response)
        return response

    def protect(self, response: Response) -> None:
        """Add the headers every page answer carries."""
        # Pages hold personal data and live tokens: never cached (ASVS 5.0 14.3.2); the reset and
        # verify links carry a token in the URL, which no Referer may leak (ASVS 5.0 14.2.1).
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = self.content_security_policy
