"""Two-factor sign-in on the pages: the second step after the password, and "confirm it's you".

Issue 18, item 7. After a right password, a user with an active factor gets the second-step
page instead of a session. The sign-in service makes the challenge (:meth:`SignIn.challenge`:
256 bits, stored as a digest, bound to the user and the pages' backend, at most five minutes
and five attempts, single-use); its token travels in a hidden field of that page's ``POST``
form, never in a URL, where logs and the ``Referer`` would keep it (ASVS 5.0 14.2.1). The code
completes it through :meth:`SignIn.complete_challenge`, which signs in exactly as the JSON
route ``POST {auth prefix}/mfa`` does; the page only turns the backend's answer into a
redirect carrying its cookies.

An OAuth sign-in of a user with a factor ends on the same form. When the pages are mounted in
the app, the OAuth router of their cookie backend (``get_oauth_router`` with
``post_login_redirect_urls``) finds ``GET /sign-in/code`` by its route name
(:data:`CODE_PAGE_ROUTE`) and, instead of the API's JSON ``202``, sends the browser there with
the challenge in a short-lived cookie (:func:`carry_challenge`: ``HttpOnly``, ``SameSite=Lax``,
``Secure`` as the pages' cookies, scoped to that page's path, as long as the challenge lives).
The page reads it once, clears it and shows the form; the token never appears in a URL.

Sensitive changes of a user with a factor (a factor enrolled or removed, new recovery codes,
a new e-mail address or password) need a fresh two-factor sign-in (T43, ASVS 5.0 7.5.1): when
the request's assurance (:func:`~fastapi_userkit.authentication.step_up.request_assurance`) is
below level 2 or older than ``MFA.step_up_within`` seconds (the API's rule for the same changes,
``router/_sensitive.py``), the change sends the browser to the
"confirm it's you" page. There the password (and the code) re-authenticate the same session:
its level and time are recorded in it and the browser gets a fresh access cookie of that
session, then goes back to the page it came from to make the change.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' Annotated
# dependencies, which refer to this factory's local variables.
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse
from starlette.datastructures import URL

from fastapi_userkit._services.sign_in import SecondStep, SignIn
from fastapi_userkit.authentication.assurance import AAL2, UNKNOWN_ASSURANCE
from fastapi_userkit.authentication.reauthentication import Reauthentication, SessionEnded
from fastapi_userkit.authentication.step_up import request_assurance
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.mfa.exceptions import MFAChallengeInvalid
from fastapi_userkit.mfa.factor import TOTPSecondFactor
from fastapi_userkit.mfa.service import MFAService
from fastapi_userkit.mfa.settings import MFA
from fastapi_userkit.pages._account import checked_form, gate
from fastapi_userkit.pages._messages import PageError, error_from_http
from fastapi_userkit.pages._site import Site
from fastapi_userkit.pages._two_factor_hooks import Confirm
from fastapi_userkit.router.common import ErrorCode, translate
from fastapi_userkit.security.events import SecurityEventType

__all__ = [
    "CHALLENGE_COOKIE",
    "CODE_PAGE_ROUTE",
    "MFA_MESSAGES",
    "MFA_NOTICES",
    "Confirm",
    "TwoFactorPages",
    "carry_challenge",
    "mfa_error",
]

CODE_PAGE_ROUTE = "pages:sign_in_code_page"
"""The name of ``GET /sign-in/code``, where an OAuth sign-in's second step is answered."""

CHALLENGE_COOKIE = "userkit-mfa-challenge"
"""The cookie carrying an OAuth sign-in's challenge token to the code page (read once)."""

# Bounds on what a form may send: a code is 6 digits or an 11-character recovery code (some
# room for spaces), a challenge token 43 characters. Anything longer is refused unread.
_MAX_CODE = 64
_MAX_TOKEN = 128

MFA_MESSAGES: dict[str, str] = {
    ErrorCode.MFA_INVALID_CODE: "This code is not correct. Enter the 6-digit code your app shows now, "
    "or one of your recovery codes.",
    ErrorCode.MFA_CODE_REPLAYED: "This code was already used. Wait for the next code in your app.",
    ErrorCode.MFA_CHALLENGE_INVALID: "This sign-in has expired or had too many wrong codes. Please sign in again.",
    ErrorCode.MFA_NOT_ENABLED: "Two-factor sign-in is not on for your account.",
    ErrorCode.MFA_ALREADY_ENABLED: "Two-factor sign-in is already on for your account.",
    ErrorCode.MFA_ENROLMENT_NOT_FOUND: "This set-up has expired. Please start again.",
    ErrorCode.REAUTHENTICATE_BAD_CREDENTIALS: "Your password is not correct.",
    ErrorCode.REAUTHENTICATE_CODE_REQUIRED: "Enter a code from your authenticator app, or a recovery code.",
}
"""Sentence per two-factor error code (the pages' own wording; templates also get the code)."""

MFA_NOTICES: dict[str, str] = {
    "two-factor-off": "Two-factor sign-in is off. Your recovery codes no longer work.",
    "confirmed": "Thank you. You can make the change now.",
}
"""Notices of the two-factor pages, chosen by a fixed key in the query (never reflected text)."""


def mfa_error(exc: HTTPException, field: str | None = None) -> PageError:
    """The :class:`PageError` of an error-table answer, with the two-factor sentences."""
    detail = exc.detail
    if isinstance(detail, str) and detail in MFA_MESSAGES:
        return PageError(detail, MFA_MESSAGES[detail], None, field)
    return error_from_http(exc, field)


def _challenge_token(answer: Response) -> str:
    # SignIn.challenge answers the JSON client; its body is the one place the token is given.
    body: dict[str, Any] = json.loads(bytes(answer.body))
    return str(body["challenge_token"])


def carry_challenge(challenge: Response, page: URL, target: str, lifetime: timedelta, *, secure: bool) -> Response:
    """Turn the API's ``202`` challenge into a redirect of the browser to the code page.

    The token rides in an ``HttpOnly``, ``SameSite=Lax`` cookie scoped to the page's path that
    lives as long as the challenge, never in the URL, where logs and the ``Referer`` would keep
    it (ASVS 5.0 14.2.1); ``Lax`` lets it travel on the redirect that comes from the provider.

    Args:
        challenge: :meth:`SignIn.challenge`'s answer.
        page: The URL of ``GET /sign-in/code`` (:data:`CODE_PAGE_ROUTE`).
        target: Where the browser goes after the code (the OAuth state's redirect target).
        lifetime: How long the challenge can be answered.
        secure: Whether the cookie is ``Secure`` (as the pages' cookie backend).
    """
    url = page.include_query_params(next=target)
    response = RedirectResponse(f"{url.path}?{url.query}", status_code=status.HTTP_302_FOUND)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        CHALLENGE_COOKIE,
        _challenge_token(challenge),
        max_age=int(lifetime.total_seconds()),
        path=page.path,
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    return response


@dataclass(frozen=True)
class TwoFactorPages:
    """The two-factor parts of one pages router.

    Args:
        site: The pages' configuration and helpers.
        mfa: The application's two-factor settings (``step_up_within``: how recent a two-factor
            sign-in must be for a sensitive change).
    """

    site: Site
    mfa: MFA
    signing_in: SignIn[Any, Any] = field(init=False)
    get_second_step: Callable[..., Any] = field(init=False)
    get_service: Callable[..., Any] = field(init=False)

    def __post_init__(self) -> None:
        site = self.site
        object.__setattr__(self, "signing_in", SignIn(site.backend, site.guards["login"], site.requires_verification))
        object.__setattr__(self, "get_second_step", self.mfa.second_step_dependency())
        object.__setattr__(self, "get_service", self.mfa.service_dependency())

    def urls(self, request: Request) -> dict[str, str]:
        """The paths of the two-factor pages, by route name without ``pages:``."""
        names = (
            "sign_in_code",
            "reauthenticate",
            "two_factor",
            "two_factor_enrol",
            "two_factor_confirm",
            "two_factor_recovery_codes",
            "two_factor_disable",
        )
        return {name: request.url_for(f"pages:{name}").path for name in names}

    def page(self, request: Request, template: str, **context: Any) -> Response:
        """Render a two-factor page (its URLs in ``mfa_urls``, its notices by their key)."""
        notice = MFA_NOTICES.get(request.query_params.get("notice", ""))
        if notice is not None:
            context.setdefault("notice", notice)
        return self.site.page(request, template, mfa_urls=self.urls(request), **context)

    # -- the second step of the sign-in ------------------------------------------------------

    async def hand_off(
        self, request: Request, user_manager: Any, user: Any, second_step: SecondStep | None, next_url: str
    ) -> Response | None:
        """After a right password: the second-step page for a user with a factor, ``None`` for others."""
        answer = await self.signing_in.challenge(request, user_manager, user, second_step)
        if answer is None:
            return None
        return self.code_page(request, _challenge_token(answer), next_url)

    def add_code_page(self, router: APIRouter) -> None:
        """Add ``GET /sign-in/code``: the second step of an OAuth sign-in (see :func:`carry_challenge`)."""
        site = self.site

        @router.get("/sign-in/code", name=CODE_PAGE_ROUTE)
        async def sign_in_code_page(request: Request) -> Response:
            token = request.cookies.get(CHALLENGE_COOKIE, "")
            next_url = site.next_url(request)
            if token and len(token) <= _MAX_TOKEN:
                response = self.code_page(request, token, next_url)
            else:  # opened again, or after the challenge expired: start over
                response = site.to_sign_in(request, next_url)
            # Read once: the token now lives only in the form.
            response.delete_cookie(
                CHALLENGE_COOKIE,
                path=request.url_for(CODE_PAGE_ROUTE).path,
                secure=site.csrf.secure,
                httponly=True,
                samesite="lax",
            )
            return response

    def code_page(
        self,
        request: Request,
        token: str,
        next_url: str,
        *,
        status_code: int = 200,
        errors: list[PageError] | None = None,
    ) -> Response:
        """The second step's page, with the challenge ``token`` in its form."""
        return self.page(
            request,
            "sign_in_code.html",
            status_code=status_code,
            errors=errors or [],
            next_url=next_url,
            challenge_token=token,
        )

    def add_sign_in_code(self, router: APIRouter) -> None:
        """Add ``POST /sign-in/code``, the second step's form, and its page for OAuth (``GET``)."""
        self.add_code_page(router)
        site = self.site
        UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
        Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
        Second = Annotated[SecondStep, Depends(self.get_second_step)]  # noqa: N806 - a type alias

        @router.post("/sign-in/code", name="pages:sign_in_code")
        async def sign_in_code(
            request: Request, user_manager: UserManager, strategy: Strategy, second: Second
        ) -> Response:
            try:
                form = await site.form(request)
            except HTTPException as exc:
                return site.refused(request, exc)
            token, code = form.get("challenge_token", ""), form.get("code", "").strip()
            next_url = site.next_url(request, form.get("next", ""))
            try:
                with translate("mfa-challenge"):
                    if not token or len(token) > _MAX_TOKEN:
                        raise MFAChallengeInvalid()
                    if len(code) > _MAX_CODE:
                        code = ""  # checked like any wrong code: it counts as an attempt
                    login = await self.signing_in.complete_challenge(
                        request, user_manager, strategy, second, token, code
                    )
            except HTTPException as exc:
                if exc.status_code != status.HTTP_400_BAD_REQUEST:
                    return site.refused(request, exc)
                error = mfa_error(exc, field=None if exc.detail == ErrorCode.MFA_CHALLENGE_INVALID else "code")
                if exc.detail == ErrorCode.MFA_CHALLENGE_INVALID:
                    return site.page(request, "sign_in.html", status_code=400, errors=[error], next_url=next_url)
                return self.code_page(request, token, next_url, status_code=400, errors=[error])
            response = site.redirect(next_url, cookies_from=login)
            # A new session gets new form tokens, as after a one-step sign-in.
            site.csrf.rotate(response)
            if site.api_csrf is not None:
                site.api_csrf.set_token_cookie(response, site.backend.transport)
            return response

    # -- "confirm it's you" ------------------------------------------------------------------

    def confirmation(self) -> Callable[..., Any]:
        """A dependency giving the request's :data:`Confirm` check."""
        get_service = self.get_service

        async def get_confirm(service: Annotated[MFAService, Depends(get_service)]) -> Confirm:
            async def confirm(request: Request, user: Any) -> Response | None:
                if not await TOTPSecondFactor(service).required(user) or self.is_fresh(request):
                    return None
                return self.to_confirm(request)

            return confirm

        return get_confirm

    def is_fresh(self, request: Request) -> bool:
        """Whether the request's sign-in proved two factors within ``MFA.step_up_within`` seconds."""
        assurance = request_assurance(request) or UNKNOWN_ASSURANCE
        return assurance.shortfall(AAL2, self.mfa.step_up_within, now_utc()) is None

    def to_confirm(self, request: Request) -> Response:
        """Redirect to the "confirm it's you" page, coming back to the page of the change."""
        url = request.url_for("pages:reauthenticate").include_query_params(next=self._back_of(request))
        return self.site.redirect(f"{url.path}?{url.query}")

    def _back_of(self, request: Request) -> str:
        # A form posted to /account/email or /account/password comes back to the account page;
        # a two-factor form to the two-factor page.
        path = request.url.path
        two_factor = request.url_for("pages:two_factor").path
        return two_factor if path.startswith(two_factor) else request.url_for("pages:account").path

    def add_reauthenticate(self, router: APIRouter) -> None:
        """Add ``GET`` and ``POST /confirm``, the "confirm it's you" page."""
        site = self.site
        UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
        Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
        Service = Annotated[MFAService, Depends(self.get_service)]  # noqa: N806 - a type alias
        Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
        reauthentication: Reauthentication[Any, Any] = Reauthentication(site.backend, site.guards["login"])

        async def confirm_page(
            request: Request,
            user: Any,
            service: MFAService,
            *,
            status_code: int = 200,
            errors: list[PageError] | None = None,
        ) -> Response:
            needs_code = await TOTPSecondFactor(service).required(user)
            return self.page(
                request,
                "reauthenticate.html",
                status_code=status_code,
                user=user,
                errors=errors or [],
                needs_code=needs_code,
            )

        @router.get("/confirm", name="pages:reauthenticate")
        async def reauthenticate_page(request: Request, current: Current, service: Service) -> Response:
            user, _ = current
            return gate(site, request, user) or await confirm_page(request, user, service)

        @router.post("/confirm", name="pages:reauthenticate_submit")
        async def reauthenticate(
            request: Request, current: Current, user_manager: UserManager, service: Service, strategy: Strategy
        ) -> Response:
            user, token = current
            form = await checked_form(site, request, user)
            if isinstance(form, Response):
                return form
            factor = TOTPSecondFactor(service)
            code = form.get("code", "").strip()[:_MAX_CODE]
            try:
                # The API's re-authentication (POST {auth prefix}/reauthenticate), on the pages' form.
                with translate("reauthenticate"):
                    assurance = await reauthentication.check(
                        request, user_manager, user, form.get("password", ""), code, factor
                    )
            except HTTPException as exc:
                if exc.status_code != status.HTTP_400_BAD_REQUEST:
                    return site.refused(request, exc, user)
                field = "password" if exc.detail == ErrorCode.REAUTHENTICATE_BAD_CREDENTIALS else "code"
                return await confirm_page(request, user, service, status_code=400, errors=[mfa_error(exc, field)])
            back = site.next_url(request, form.get("next", ""))
            try:
                renewed = await reauthentication.renew(request, strategy, user, token or "", assurance)  # set with user
            except SessionEnded:  # signed out elsewhere meanwhile
                return site.to_sign_in(request, back)
            await user_manager.emit_security_event(
                SecurityEventType.LOGIN_SUCCEEDED,
                request,
                user_id=user.id,
                details={"backend": site.backend.name, "method": "reauthenticate", "aal": str(assurance.aal)},
            )
            target = back if "?" in back else f"{back}?notice=confirmed"
            return site.redirect(target, cookies_from=renewed)
