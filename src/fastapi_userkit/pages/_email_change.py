"""The confirmed e-mail change on the pages (issue 20, T40; the model of Kratos and Supabase).

On when the app gives the pages an :class:`~fastapi_userkit.email_auth.EmailChangeService`
dependency (``get_pages_router(email_change=...)``). The account page's e-mail form then asks
for the current password (and, for a user with a second factor, a fresh two-factor sign-in:
"confirm it's you"), as before, but only *asks* for the change:

* the new address gets a confirmation link; until it is used the account keeps its address, and
  the account page shows the pending change ("waiting for confirmation of ...") with "send it
  again" and "cancel";
* the old address gets a notice with a "this was not me" link, valid for days.

A user without a password (who signs in by e-mail or with a passkey) has none to type: for
them a recent sign-in stands in for it, at most ``fresh_within`` seconds old (300 by default,
as the JSON route ``POST /users/me/email-change``); an older one is asked to sign in again.

The links open ``GET /email/confirm?token=...`` and ``GET /email/revert?token=...``: pages whose
button ``POST``s the token, so a mail scanner opening a link changes nothing (T35). The revert
restores the old address and ends every session of the user (the service does, in every backend
of the app); the page says so and clears this browser's sign-in.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' Annotated
# dependencies, which refer to this factory's local variables.
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response, status
from pydantic import ValidationError

from fastapi_userkit import exceptions
from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit.authentication._context import auth_context
from fastapi_userkit.authentication.assurance import UNKNOWN_ASSURANCE
from fastapi_userkit.authentication.step_up import request_assurance
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.email_auth import EmailChangePending, EmailChangeService, EmailLinkInvalid
from fastapi_userkit.pages._account import account_page, check_password, checked_form, done
from fastapi_userkit.pages._email_hooks import EmailHooks
from fastapi_userkit.pages._email_sign_in import email_error
from fastapi_userkit.pages._messages import CURRENT_PASSWORD_WRONG, PageError, page_error
from fastapi_userkit.pages._public import validation_errors
from fastapi_userkit.pages._site import Site
from fastapi_userkit.router.common import translate

__all__ = ["ROUTES", "SIGN_IN_AGAIN", "EmailChangePages", "EmailChangeView"]

_MAX_TOKEN = 256
"""A link's secret is 43 characters: a longer token is refused unread."""

ROUTES = ("email_change_confirm", "email_change_revert", "email_change_cancel", "email_change_resend")
"""Route names (without ``pages:``) of these pages; templates find them in ``urls``."""

SIGN_IN_AGAIN = "SIGN_IN_AGAIN"
"""The pages' code for a user without a password whose sign-in is too old to change the address."""

_SIGN_IN_AGAIN_MESSAGE = (
    "To change your address, your sign-in must be recent: sign out, sign in again, then ask for the change."
)


def _link_secret(form: Mapping[str, str]) -> str:
    """The secret of a confirm or revert link's form.

    Raises:
        EmailLinkInvalid: None was sent, or one longer than any link carries.
    """
    secret = form.get("token", "")
    if not secret or len(secret) > _MAX_TOKEN:
        raise EmailLinkInvalid()
    return secret


@dataclass(frozen=True)
class EmailChangeView:
    """The account page's e-mail section with the confirmed change on.

    Attributes:
        pending: The change waiting for its confirmation, if one is.
        needs_password: The form asks for the current password (the user has one; for a user
            without, a recent sign-in stands in for it).
    """

    pending: EmailChangePending | None
    needs_password: bool = True


@dataclass(frozen=True)
class _Forms:
    """The e-mail change of one request, as the account page uses it (:class:`EmailChangeForms`)."""

    pages: "EmailChangePages"
    service: EmailChangeService[Any, Any]

    async def view(self, request: Request, user: Any) -> EmailChangeView:
        """The account page's e-mail section: the pending change, if any."""
        return EmailChangeView(await self.service.pending(user), has_usable_password(user.hashed_password))

    async def submit(
        self, request: Request, user: Any, user_manager: Any, form: dict[str, str], background_tasks: BackgroundTasks
    ) -> Response:
        """Ask for the change: the current password (or a recent sign-in) first, then both e-mails."""
        site = self.pages.site
        email = form.get("email", "")
        try:
            update = site.user_update_schema.model_validate({"email": email.strip()})
        except ValidationError as exc:
            return await self.account(request, user, 400, validation_errors(exc), email=email)
        needs_password = has_usable_password(user.hashed_password)
        if not needs_password and not self.pages.recent_sign_in(request):
            errors = [PageError(SIGN_IN_AGAIN, _SIGN_IN_AGAIN_MESSAGE)]
            return await self.account(request, user, 403, errors, email=email)
        try:
            with translate("update", "email-change"):
                if needs_password:  # re-authentication (ASVS 5.0 6.2.3, 7.5.1), under the login throttle
                    await check_password(site, request, user_manager, user, form.get("current_password", ""))
                # A taken address is answered like a free one (ASVS 5.0 6.3.8): the link decides.
                await self.service.request_change(user, str(update.email), defer=background_tasks.add_task)
        except exceptions.CurrentPasswordInvalid:
            errors = [page_error(CURRENT_PASSWORD_WRONG, field="email_current_password")]
            return await self.account(request, user, 400, errors, email=email)
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc, user)
            return await self.account(request, user, 400, [email_error(exc, "email")], email=email)
        return done(site, request, "email-change-pending")

    async def account(
        self, request: Request, user: Any, status_code: int, errors: list[PageError], **form: Any
    ) -> Response:
        """The account page refusing a form, with the pending change shown."""
        view = await self.view(request, user)
        return await account_page(
            self.pages.site, request, user, status_code=status_code, errors=errors, email_change=view, **form
        )


@dataclass(frozen=True)
class EmailChangePages:
    """The e-mail change pages of one pages router.

    Args:
        site: The pages' configuration and helpers.
        get_service: Dependency giving the request's :class:`~fastapi_userkit.email_auth.EmailChangeService`.
        fresh_within: How recent (seconds) the sign-in of a user without a password must be to ask.
    """

    site: Site
    get_service: Callable[..., Any]
    fresh_within: int = 300

    def recent_sign_in(self, request: Request) -> bool:
        """Whether the request's sign-in (any factor) is at most :attr:`fresh_within` seconds old."""
        assurance = request_assurance(request) or UNKNOWN_ASSURANCE
        return assurance.is_fresh(self.fresh_within, now_utc())

    def hooks(self) -> EmailHooks:
        """What the account page calls: the request's forms, over the request's service."""
        get_service = self.get_service

        async def get_change(service: Annotated[EmailChangeService[Any, Any], Depends(get_service)]) -> _Forms:
            return _Forms(self, service)

        return EmailHooks(get_change=get_change)

    def add(self, router: APIRouter) -> None:
        """Add the pending change's forms and the two links' pages to ``router``."""
        self.site.optional_pages.extend(ROUTES)
        self._add_pending(router)
        self._add_confirm(router)
        self._add_revert(router)

    def _add_pending(self, router: APIRouter) -> None:
        site = self.site
        Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
        Service = Annotated[EmailChangeService[Any, Any], Depends(self.get_service)]  # noqa: N806 - a type alias

        @router.post("/email/cancel", name="pages:email_change_cancel")
        async def cancel(request: Request, current: Current, service: Service) -> Response:
            user, _ = current
            form = await checked_form(site, request, user)
            if isinstance(form, Response):
                return form
            # Nothing pending any more (confirmed, or cancelled in another tab): the same outcome.
            await service.cancel(user)
            return done(site, request, "email-change-cancelled")

        @router.post("/email/resend", name="pages:email_change_resend")
        async def resend(
            request: Request, current: Current, service: Service, background_tasks: BackgroundTasks
        ) -> Response:
            user, _ = current
            form = await checked_form(site, request, user)
            if isinstance(form, Response):
                return form
            # Only to the address already asked for, by the user it was asked for: no freshness needed.
            sent = await service.resend(user, defer=background_tasks.add_task)
            return done(site, request, "email-change-resent" if sent is not None else "email-change-none")

    def _add_confirm(self, router: APIRouter) -> None:
        site = self.site
        Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
        Service = Annotated[EmailChangeService[Any, Any], Depends(self.get_service)]  # noqa: N806 - a type alias

        @router.get("/email/confirm", name="pages:email_change_confirm")
        async def confirm_page(request: Request, current: Current) -> Response:
            user, _ = current
            # A GET only shows the button: mail scanners open links (T35, ASVS 5.0 3.5.3).
            token = request.query_params.get("token", "")[: _MAX_TOKEN + 1]
            return site.page(request, "email_change_confirm.html", user=user, token=token)

        @router.post("/email/confirm", name="pages:email_change_confirm_submit")
        async def confirm(request: Request, current: Current, service: Service) -> Response:
            user, _ = current
            try:
                form = await site.form(request)
            except HTTPException as exc:
                return site.refused(request, exc, user)
            try:
                with translate("email-change-link"):
                    changed = await service.confirm(_link_secret(form), request=request)
            except HTTPException as exc:  # the link's errors (no guard: 256-bit secrets)
                errors = [email_error(exc)]
                return site.page(request, "email_change_confirm.html", status_code=400, user=user, errors=errors)
            return site.page(request, "email_change_confirm.html", user=user, confirmed=changed.email)

    def _add_revert(self, router: APIRouter) -> None:
        site = self.site
        # The pages' authenticator runs for every request, signed in or not: it records the app's
        # backends, whose sessions the revert ends (``_services/sessions.py``).
        Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
        Service = Annotated[EmailChangeService[Any, Any], Depends(self.get_service)]  # noqa: N806 - a type alias

        @router.get("/email/revert", name="pages:email_change_revert")
        async def revert_page(request: Request, current: Current) -> Response:
            user, _ = current
            token = request.query_params.get("token", "")[: _MAX_TOKEN + 1]
            return site.page(request, "email_change_revert.html", user=user, token=token)

        @router.post("/email/revert", name="pages:email_change_revert_submit")
        async def revert(request: Request, current: Current, service: Service) -> Response:
            user, token = current
            try:
                form = await site.form(request)
            except HTTPException as exc:
                return site.refused(request, exc, user)
            try:
                with translate("email-change-link"):
                    # Restores the address, closes the changes and ends every session of the user.
                    result = await service.revert(_link_secret(form), request=request)
            except HTTPException as exc:  # the link's errors (no guard: 256-bit secrets)
                errors = [email_error(exc)]
                return site.page(request, "email_change_revert.html", status_code=400, user=user, errors=errors)
            response = site.page(request, "email_change_revert.html", reverted=result)
            context = auth_context(request)
            if user is not None and token is not None and context is not None and user.id == result.user.id:
                # This browser's session ended with the others: clear its cookies too.
                logout = await site.backend.logout_for_request(context.strategy, user, token, request)
                for value in logout.headers.getlist("set-cookie"):
                    response.headers.append("set-cookie", value)
                site.csrf.rotate(response)
                if site.api_csrf is not None:
                    site.api_csrf.clear_token_cookie(response, site.backend.transport)
            return response
