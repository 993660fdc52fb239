"""What every page handler shares: configuration, the current user, forms, rendering, redirects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse

from fastapi_userkit import schemas
from fastapi_userkit.authentication import AuthenticationBackend
from fastapi_userkit.pages._csrf import CSRF_FIELD, FormCSRF
from fastapi_userkit.pages._messages import NOTICES, PageError, error_from_http
from fastapi_userkit.pages._redirect import safe_next
from fastapi_userkit.pages._render import PageRenderer
from fastapi_userkit.router.common import translate
from fastapi_userkit.security.csrf import CSRFProtection
from fastapi_userkit.security.ratelimit.limiter import FlowGuard, RateLimitFlow

__all__ = ["PAGE_NAMES", "OAuthProvider", "Site"]

PAGE_NAMES = (
    "sign_in",
    "sign_up",
    "sign_out",
    "forgot_password",
    "reset_password",
    "verify",
    "resend_verification",
    "account",
    "change_email",
    "change_password",
    "end_session",
    "end_other_sessions",
    "unlink_oauth",
    "stylesheet",
)
"""The pages' route names, without the ``pages:`` prefix; templates find them in ``urls``."""

CurrentUserToken = Callable[..., Awaitable[tuple[Any, str | None]]]


@dataclass(frozen=True)
class OAuthProvider:
    """An OAuth provider whose login button the sign-in page shows.

    The app mounts the provider's login router (``get_oauth_router``) for the pages' cookie
    backend, with ``post_login_redirect_urls`` naming the page the user lands on. The button
    leads to :attr:`start_url`, a route of the app that sends the browser to the provider.
    """

    name: str
    """The provider's name (``oauth_client.name``), shown on linked accounts."""

    label: str
    """The button's text, e.g. ``"Continue with GitHub"``."""

    start_url: str
    """A same-site URL that redirects the browser to the provider."""


@dataclass
class Site:
    """The configuration and helpers of one pages router."""

    backend: AuthenticationBackend[Any, Any]
    get_user_manager: Callable[..., Any]
    current_user_token: CurrentUserToken
    renderer: PageRenderer
    csrf: FormCSRF
    api_csrf: CSRFProtection | None
    guards: dict[RateLimitFlow, FlowGuard]
    requires_verification: bool
    user_create_schema: type[schemas.BaseUserCreate]
    user_update_schema: type[schemas.BaseUserUpdate]
    send_verification: bool
    hide_existing_users: bool
    stylesheets: Sequence[str]
    oauth_providers: Sequence[OAuthProvider] = field(default_factory=tuple)
    optional_pages: list[str] = field(default_factory=list)
    """Route names (without ``pages:``) of the optional pages mounted, e.g. e-mail sign-in; in ``urls`` too."""

    # -- requests ----------------------------------------------------------------------------

    async def form(self, request: Request) -> dict[str, str]:
        """The submitted form, first value per field, text fields only, after the CSRF checks.

        Raises:
            HTTPException: ``403`` for a cross-site form or a bad token (the error table's
                answer to the CSRF refusal, which the pages render).
        """
        data = await request.form()
        values = {key: value for key, value in data.multi_items() if isinstance(value, str)}
        with translate("csrf-origin", "csrf-token"):
            self.csrf.check(request, values.get(CSRF_FIELD))
        return values

    def urls(self, request: Request) -> dict[str, str]:
        """The path of every page, by route name without its ``pages:`` prefix (optional ones if mounted)."""
        return {name: request.url_for(f"pages:{name}").path for name in (*PAGE_NAMES, *self.optional_pages)}

    def next_url(self, request: Request, value: object = None) -> str:
        """A safe ``next`` from ``value`` or the query; the account page otherwise."""
        candidate = value if value is not None else request.query_params.get("next")
        return safe_next(candidate, request.url_for("pages:account").path)

    # -- answers -----------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        *,
        status_code: int = status.HTTP_200_OK,
        user: Any = None,
        errors: Sequence[PageError] = (),
        form: dict[str, str] | None = None,
        next_url: str | None = None,
        **context: Any,
    ) -> Response:
        """Render a page with a fresh form token; passwords never go back into ``form``."""
        token, new_nonce = self.csrf.issue(request)
        notice = NOTICES.get(request.query_params.get("notice", ""))
        kept = {key: value for key, value in (form or {}).items() if "password" not in key and key != CSRF_FIELD}
        response = self.renderer.render(
            f"userkit/{template}",
            {
                "request": request,
                "user": user,
                "csrf_field": CSRF_FIELD,
                "csrf_token": token,
                "errors": list(errors),
                "field_errors": {error.field: error for error in errors if error.field},
                "form": kept,
                "next": next_url if next_url is not None else self.next_url(request),
                "notice": notice,
                "urls": self.urls(request),
                "stylesheets": [str(request.url_for("pages:stylesheet").path), *self.stylesheets],
                "requires_verification": self.requires_verification,
                "oauth_providers": self.oauth_providers,
                **context,
            },
            status_code,
        )
        if new_nonce is not None:
            self.csrf.set_cookie(response, new_nonce)
        return response

    def refused(self, request: Request, exc: HTTPException, user: Any = None) -> Response:
        """The page answering a refused form (CSRF ``403``, rate limit ``429``)."""
        response = self.page(
            request, "message.html", status_code=exc.status_code, user=user, errors=[error_from_http(exc)]
        )
        if exc.headers and "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response

    def redirect(self, url: str, *, cookies_from: Response | None = None) -> Response:
        """``303 See Other`` to ``url``, carrying the cookies ``cookies_from`` sets."""
        response = RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
        if cookies_from is not None:
            for value in cookies_from.headers.getlist("set-cookie"):
                response.headers.append("set-cookie", value)
        self.renderer.protect(response)
        return response

    def to_sign_in(self, request: Request, next_url: str | None = None, notice: str | None = None) -> Response:
        """Redirect to the sign-in page, coming back to ``next_url`` afterwards."""
        query: dict[str, str] = {}
        # The account page is where sign-in leads anyway: no need to say it.
        if next_url and next_url != request.url_for("pages:account").path:
            query["next"] = next_url
        if notice:
            query["notice"] = notice
        url = request.url_for("pages:sign_in").include_query_params(**query)
        return self.redirect(f"{url.path}?{url.query}" if url.query else url.path)
