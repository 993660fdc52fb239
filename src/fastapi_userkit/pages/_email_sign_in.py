"""Sign-in by e-mail on the pages: "E-mail me a sign-in link", the link's page, the code form (issue 20).

On when the app gives the pages an :class:`~fastapi_userkit.email_auth.EmailSignInService`
dependency (``get_pages_router(email_sign_in=...)``); the sign-in page then links to it.

* ``GET /email-login`` asks for the address; ``POST /email-login`` answers every address with
  the same "check your inbox" page (ASVS 5.0 6.3.8): the service does the same lookup and write
  for all of them and the e-mail leaves after the response, as the JSON route does, under the
  same rate limits (the forgot-password flow's).
* That page carries the code form (``POST /email-login/code``): wrong codes count as failed
  logins of the address and of the IP, as in ``POST {auth prefix}/email-login/code``.
* The link in the e-mail opens ``GET /email-login/verify?token=...``, a page whose button
  ``POST``s the token: a mail scanner following the link spends nothing (T35). Its address is
  what the app puts in ``EmailSignInSettings.link_url``.

Either completion signs in exactly as the pages' password sign-in: a user with a second factor
gets the second-step page (the e-mail is one factor), everyone else a session of the pages'
cookie backend, with new form tokens.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' Annotated
# dependencies, which refer to this factory's local variables.
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response, status

from fastapi_userkit._services.sign_in import SignIn
from fastapi_userkit.email_auth import EmailLinkInvalid, EmailSignInResult, EmailSignInService
from fastapi_userkit.pages._messages import INVALID_EMAIL, PageError, error_from_http, page_error
from fastapi_userkit.pages._public import parse_email
from fastapi_userkit.pages._site import Site
from fastapi_userkit.pages._two_factor_hooks import TwoFactorHooks
from fastapi_userkit.router.common import ErrorCode, translate

__all__ = ["EMAIL_MESSAGES", "ROUTES", "EmailSignInPages", "email_error"]

# A link's secret is 43 characters, a code 6 to 8 (some room for spaces): longer is refused unread.
_MAX_TOKEN = 256
_MAX_CODE = 32

ROUTES = ("email_sign_in", "email_sign_in_code", "email_sign_in_link")
"""Route names (without ``pages:``) of these pages; templates find them in ``urls``."""

EMAIL_MESSAGES: dict[str, str] = {
    ErrorCode.EMAIL_LINK_INVALID: "This link is not valid. It may be cut short, or the account changed since "
    "the e-mail was sent.",
    ErrorCode.EMAIL_LINK_EXPIRED: "This link or code has expired. Ask for a new e-mail.",
    ErrorCode.EMAIL_LINK_USED: "This link or code was already used, or a newer e-mail replaced it.",
    ErrorCode.EMAIL_CODE_INVALID: "This code is not correct. Enter the code from the latest e-mail we sent you.",
    ErrorCode.EMAIL_CODE_ATTEMPTS_EXHAUSTED: "Too many wrong codes. Ask for a new e-mail.",
    ErrorCode.EMAIL_ADDRESS_TAKEN: "This e-mail address belongs to another account.",
    ErrorCode.EMAIL_CHANGE_SAME_ADDRESS: "This is already your e-mail address.",
}
"""Sentence per e-mail sign-in and e-mail change error code (templates also get the code)."""


def email_error(exc: HTTPException, field: str | None = None) -> PageError:
    """The :class:`PageError` of an error-table answer, with the e-mail sentences."""
    detail = exc.detail
    if isinstance(detail, str) and detail in EMAIL_MESSAGES:
        return PageError(detail, EMAIL_MESSAGES[detail], None, field)
    return error_from_http(exc, field)


@dataclass(frozen=True)
class EmailSignInPages:
    """The e-mail sign-in pages of one pages router.

    Args:
        site: The pages' configuration and helpers.
        get_service: Dependency giving the request's :class:`~fastapi_userkit.email_auth.EmailSignInService`.
        two_factor: The two-factor pages' hooks: a user with a factor gets the second step.
    """

    site: Site
    get_service: Callable[..., Any]
    two_factor: TwoFactorHooks
    signing_in: SignIn[Any, Any] = field(init=False)

    def __post_init__(self) -> None:
        site = self.site
        object.__setattr__(self, "signing_in", SignIn(site.backend, site.guards["login"], site.requires_verification))

    def add(self, router: APIRouter) -> None:
        """Add the request form, the code form and the link's page to ``router``."""
        self.site.optional_pages.extend(ROUTES)
        self._add_request(router)
        self._add_code(router)
        self._add_link(router)

    # -- answers -----------------------------------------------------------------------------

    def _request_page(
        self,
        request: Request,
        *,
        status_code: int = 200,
        errors: list[PageError] | None = None,
        email: str = "",
        next_url: str | None = None,
    ) -> Response:
        return self.site.page(
            request,
            "email_sign_in.html",
            status_code=status_code,
            errors=errors or [],
            form={"email": email},
            next_url=next_url,
        )

    def _sent_page(
        self,
        request: Request,
        service: EmailSignInService[Any, Any],
        email: str,
        next_url: str,
        *,
        status_code: int = 200,
        errors: list[PageError] | None = None,
    ) -> Response:
        return self.site.page(
            request,
            "email_sign_in_sent.html",
            status_code=status_code,
            errors=errors or [],
            form={"email": email},
            next_url=next_url,
            sent_to=email,
            lifetime_minutes=int(service.settings.lifetime.total_seconds() // 60),
        )

    async def _signed_in(
        self,
        request: Request,
        user_manager: Any,
        strategy: Any,
        second_step: Any,
        result: EmailSignInResult[Any],
        next_url: str,
    ) -> Response:
        """Sign the e-mail's user in as the password sign-in does (the second step first, if they have one)."""
        site = self.site
        if self.two_factor.hand_off is not None:  # issue 18: the e-mail is one factor
            second = await self.two_factor.hand_off(request, user_manager, result.user, second_step, next_url)
            if second is not None:
                return second
        account = request.url_for("pages:account").path
        if result.password_cleared and next_url == account:
            # The password someone registered the never-verified address with stopped working
            # (pre-registration takeover): the owner is told, and how to choose one.
            next_url = f"{account}?notice=password-cleared"
        response = await self.signing_in.complete(
            request,
            user_manager,
            strategy,
            result.user,
            respond=lambda login: site.redirect(next_url, cookies_from=login),
        )
        # A new session gets new form tokens (no token outlives the session it was made for).
        site.csrf.rotate(response)
        if site.api_csrf is not None:
            site.api_csrf.set_token_cookie(response, site.backend.transport)
        return response

    # -- routes ------------------------------------------------------------------------------

    def _add_request(self, router: APIRouter) -> None:
        site = self.site
        UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
        Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
        Service = Annotated[EmailSignInService[Any, Any], Depends(self.get_service)]  # noqa: N806 - a type alias
        guard = site.guards["forgot_password"]

        @router.get("/email-login", name="pages:email_sign_in")
        async def email_sign_in_page(request: Request, current: Current) -> Response:
            user, _ = current
            if user is not None:
                return site.redirect(site.next_url(request))
            return self._request_page(request, email=request.query_params.get("email", "")[:320])

        @router.post("/email-login", name="pages:email_sign_in_submit")
        async def email_sign_in(
            request: Request, user_manager: UserManager, service: Service, background_tasks: BackgroundTasks
        ) -> Response:
            try:
                form = await site.form(request)
            except HTTPException as exc:
                return site.refused(request, exc)
            next_url = site.next_url(request, form.get("next", ""))
            email = parse_email(form.get("email", ""))
            if email is None:
                errors = [page_error(INVALID_EMAIL, field="email")]
                return self._request_page(
                    request, status_code=400, errors=errors, email=form.get("email", ""), next_url=next_url
                )
            try:
                with translate():  # the guard's refusals
                    async with guard.attempt(request, user_manager, email):
                        # The same work and the same page for every address; the e-mail leaves
                        # after the response (ASVS 5.0 6.3.8).
                        await service.request(email, defer=background_tasks.add_task)
            except HTTPException as exc:
                return site.refused(request, exc)
            return self._sent_page(request, service, email, next_url)

    def _add_code(self, router: APIRouter) -> None:
        site = self.site
        UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
        Service = Annotated[EmailSignInService[Any, Any], Depends(self.get_service)]  # noqa: N806 - a type alias
        Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
        SecondStep = Annotated[Any, Depends(self.two_factor.get_second_step)]  # noqa: N806 - a type alias
        guard = site.guards["login"]

        @router.post("/email-login/code", name="pages:email_sign_in_code")
        async def email_sign_in_code(
            request: Request, user_manager: UserManager, service: Service, strategy: Strategy, second_step: SecondStep
        ) -> Response:
            try:
                form = await site.form(request)
            except HTTPException as exc:
                return site.refused(request, exc)
            next_url = site.next_url(request, form.get("next", ""))
            email = parse_email(form.get("email", ""))
            if email is None:  # the form's hidden field was tampered with: ask for the address again
                return self._request_page(
                    request, status_code=400, errors=[page_error(INVALID_EMAIL, field="email")], next_url=next_url
                )
            code = form.get("code", "").strip()[:_MAX_CODE]
            try:
                with translate("email-login"):
                    async with guard.attempt(request, user_manager, email) as attempt:
                        result = await service.complete_by_code(email, code, request=request)
                        attempt.mark_succeeded()
                    return await self._signed_in(request, user_manager, strategy, second_step, result, next_url)
            except HTTPException as exc:
                if exc.status_code != status.HTTP_400_BAD_REQUEST:
                    return site.refused(request, exc)
                if exc.detail == ErrorCode.EMAIL_CODE_INVALID:  # another try with the same e-mail
                    errors = [email_error(exc, "code")]
                    return self._sent_page(request, service, email, next_url, status_code=400, errors=errors)
                # Expired, used, out of attempts: only a new e-mail helps.
                return self._request_page(
                    request, status_code=400, errors=[email_error(exc)], email=email, next_url=next_url
                )

    def _add_link(self, router: APIRouter) -> None:
        site = self.site
        UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
        Service = Annotated[EmailSignInService[Any, Any], Depends(self.get_service)]  # noqa: N806 - a type alias
        Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
        SecondStep = Annotated[Any, Depends(self.two_factor.get_second_step)]  # noqa: N806 - a type alias

        @router.get("/email-login/verify", name="pages:email_sign_in_link")
        async def email_sign_in_link_page(request: Request) -> Response:
            # A GET only shows the button: mail scanners open links (T35, ASVS 5.0 3.5.3).
            token = request.query_params.get("token", "")[: _MAX_TOKEN + 1]
            return site.page(request, "email_sign_in_link.html", token=token)

        @router.post("/email-login/verify", name="pages:email_sign_in_link_submit")
        async def email_sign_in_link(
            request: Request, user_manager: UserManager, service: Service, strategy: Strategy, second_step: SecondStep
        ) -> Response:
            try:
                form = await site.form(request)
            except HTTPException as exc:
                return site.refused(request, exc)
            token = form.get("token", "")
            next_url = site.next_url(request, form.get("next", ""))
            try:
                with translate("email-login"):
                    if not token or len(token) > _MAX_TOKEN:
                        raise EmailLinkInvalid()
                    result = await service.complete_by_link(token, request=request)
                    return await self._signed_in(request, user_manager, strategy, second_step, result, next_url)
            except HTTPException as exc:  # the link's errors: no guard counts link tries (256-bit secrets)
                return site.page(request, "email_sign_in_link.html", status_code=400, errors=[email_error(exc)])
