"""The account page's passkeys (add, rename, delete) and "confirm it's you" with a passkey.

See :mod:`fastapi_userkit.pages._passkeys`.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' Annotated
# dependencies, which refer to this factory's local variables.
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response, status

from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit.authentication.reauthentication import Reauthentication, SessionEnded
from fastapi_userkit.pages._account import account_page, checked_form, done, gate
from fastapi_userkit.pages._messages import PageError, error_from_http
from fastapi_userkit.pages._passkey_forms import PasskeyPages, PasskeysView, credential_of, passkey_id_of
from fastapi_userkit.pages._two_factor_hooks import Confirm
from fastapi_userkit.passkeys import accounts
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.router.common import translate
from fastapi_userkit.security.events import SecurityEventType
from fastapi_userkit.sessions import flow as session_flow

__all__ = ["add_confirm", "add_management", "add_password_confirm", "add_set_password"]


async def fresh_form(pages: PasskeyPages, request: Request, user: Any, confirm: Confirm) -> dict[str, str] | Response:
    """The form of a passkey or password change, or where the browser goes first.

    The refusal of the form itself (CSRF, signed out, unverified), or "confirm it's you" when the
    sign-in is too old or too weak for the change (the JSON routes' freshness rule).
    """
    form = await checked_form(pages.site, request, user)
    if isinstance(form, Response):
        return form
    if (first := await pages.stale(request, user, confirm)) is not None:
        return pages.site.redirect(first)
    return form


def add_management(router: APIRouter, pages: PasskeyPages) -> None:
    site = pages.site
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    Service = Annotated[PasskeyService, Depends(pages.get_service)]  # noqa: N806 - a type alias
    ConfirmFirst = Annotated[Confirm, Depends(pages.two_factor.get_confirm)]  # noqa: N806 - a type alias
    TwoFactorView = Annotated[Any, Depends(pages.two_factor.get_view)]  # noqa: N806 - a type alias

    async def refused(
        request: Request,
        user: Any,
        exc: HTTPException,
        two_factor: Any,
        service: PasskeyService,
        field: str | None = None,
    ) -> Response:
        # The "passkey" and "passkey-manage" flows answer 400 or 404 only: the account page again.
        view = PasskeysView(await service.list_passkeys(user.id), has_usable_password(user.hashed_password))
        errors = [error_from_http(exc, field)]
        return await account_page(
            site, request, user, status_code=exc.status_code, errors=errors, two_factor=two_factor, passkeys=view
        )

    @router.post("/passkeys/add/options", name="pages:passkey_add_options")
    async def add_options(request: Request, current: Current, service: Service, confirm: ConfirmFirst) -> Response:
        user, _ = current
        form = await pages.json_form(request)
        if isinstance(form, Response):
            return form
        if user is None:
            return pages.json_redirect(request.url_for("pages:sign_in").path)
        if (first := await pages.stale(request, user, confirm)) is not None:
            return pages.json_redirect(first)
        return pages.options(await service.registration_options(user.id, user_name=user.email))

    @router.post("/passkeys/add", name="pages:passkey_add")
    async def add(
        request: Request,
        current: Current,
        user_manager: UserManager,
        service: Service,
        confirm: ConfirmFirst,
        two_factor: TwoFactorView,
        background: BackgroundTasks,
    ) -> Response:
        user, _ = current
        form = await fresh_form(pages, request, user, confirm)
        if isinstance(form, Response):
            return form
        try:
            with translate("passkey"):
                name = form.get("name", "").strip() or None
                added = await service.verify_registration(user.id, credential_of(form), name=name)
        except HTTPException as exc:
            return await refused(request, user, exc, two_factor, service)
        # The JSON route's notice and event (item 3): the user hears of every new passkey.
        await accounts.announce(
            user_manager, request, background, user, "registered", passkey_id=added.id, name=added.name
        )
        return done(site, request, "passkey-added")

    @router.post("/passkeys/rename", name="pages:passkey_rename")
    async def rename(
        request: Request,
        current: Current,
        user_manager: UserManager,
        service: Service,
        confirm: ConfirmFirst,
        two_factor: TwoFactorView,
        background: BackgroundTasks,
    ) -> Response:
        user, _ = current
        form = await fresh_form(pages, request, user, confirm)
        if isinstance(form, Response):
            return form
        try:
            passkey_id = form.get("passkey_id", "")
            with translate("passkey-manage"):
                await service.rename(user.id, passkey_id_of(passkey_id), form.get("name", ""))
        except HTTPException as exc:
            return await refused(request, user, exc, two_factor, service)
        name = form.get("name", "").strip()
        await accounts.announce(
            user_manager, request, background, user, "renamed", passkey_id=uuid.UUID(passkey_id), name=name
        )
        return done(site, request, "passkey-renamed")

    @router.post("/passkeys/delete", name="pages:passkey_delete")
    async def delete(
        request: Request,
        current: Current,
        user_manager: UserManager,
        service: Service,
        confirm: ConfirmFirst,
        two_factor: TwoFactorView,
        background: BackgroundTasks,
    ) -> Response:
        user, _ = current
        form = await fresh_form(pages, request, user, confirm)
        if isinstance(form, Response):
            return form
        try:
            with translate("passkey-manage"):
                # Never the last way in (item 5): a user without a password keeps one passkey.
                deleted = await accounts.delete_passkey(service, user, passkey_id_of(form.get("passkey_id", "")))
        except HTTPException as exc:
            return await refused(request, user, exc, two_factor, service)
        await accounts.announce(
            user_manager, request, background, user, "deleted", passkey_id=deleted.id, name=deleted.name
        )
        return done(site, request, "passkey-deleted")


def add_set_password(router: APIRouter, pages: PasskeyPages) -> None:
    """A first password for an account without one (a passkey sign-up): no current password to type.

    The account page shows this form instead of "change password" to such a user. It follows the
    passkey changes' freshness rule, and :func:`~fastapi_userkit.passkeys.accounts.set_first_password`
    (the password policy, the event, the end of the user's other sessions) does the rest; this
    browser gets a fresh cookie, as after a password change.
    """
    site = pages.site
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    Service = Annotated[PasskeyService, Depends(pages.get_service)]  # noqa: N806 - a type alias
    ConfirmFirst = Annotated[Confirm, Depends(pages.two_factor.get_confirm)]  # noqa: N806 - a type alias
    TwoFactorView = Annotated[Any, Depends(pages.two_factor.get_view)]  # noqa: N806 - a type alias
    Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias

    @router.post("/passkeys/password", name="pages:passkey_set_password")
    async def set_password(
        request: Request,
        current: Current,
        user_manager: UserManager,
        strategy: Strategy,
        service: Service,
        confirm: ConfirmFirst,
        two_factor: TwoFactorView,
    ) -> Response:
        user, _ = current
        form = await fresh_form(pages, request, user, confirm)
        if isinstance(form, Response):
            return form
        try:
            with translate("passkey-account", "update"):
                updated = await accounts.set_first_password(user_manager, user, form.get("new_password", ""), request)
        except HTTPException as exc:  # a password already set, or one the policy refuses: 400
            view = PasskeysView(await service.list_passkeys(user.id), has_usable_password(user.hashed_password))
            errors = [error_from_http(exc, "new_password")]
            return await account_page(
                site, request, user, status_code=400, errors=errors, two_factor=two_factor, passkeys=view
            )
        # Setting it ended every session, this one included: this browser gets a fresh one (T23).
        renewed = Response()
        await session_flow.renew_cookie_login(site.backend, strategy, updated, request, renewed)
        return done(site, request, "password-set", cookies_from=renewed)


def add_confirm(router: APIRouter, pages: PasskeyPages) -> None:
    """ "Confirm it's you" with one of the user's passkeys: the session is renewed, as with the password."""
    site = pages.site
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
    Service = Annotated[PasskeyService, Depends(pages.get_service)]  # noqa: N806 - a type alias
    reauthentication: Reauthentication[Any, Any] = Reauthentication(site.backend, site.guards["login"])

    @router.post("/passkeys/confirm/options", name="pages:passkey_confirm_options")
    async def confirm_options(request: Request, current: Current, service: Service) -> Response:
        user, _ = current
        form = await pages.json_form(request)
        if isinstance(form, Response):
            return form
        if user is None:
            return pages.json_redirect(request.url_for("pages:sign_in").path)
        try:
            with translate("passkey"):
                # Bound to the user: only their own passkeys are offered, and accepted.
                options = await accounts.reauthentication_options(service, user)
        except HTTPException as exc:
            return pages.json_error(error_from_http(exc), exc.status_code)
        return pages.options(options)

    @router.post("/passkeys/confirm", name="pages:passkey_confirm")
    async def confirm(
        request: Request, current: Current, user_manager: UserManager, strategy: Strategy, service: Service
    ) -> Response:
        user, token = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        back = site.next_url(request, form.get("next", ""))
        try:
            # The API's re-authentication with a passkey: with user verification, two factors
            # proved now (NIST SP 800-63B 4.2.1), recorded in the same session.
            with translate("passkey"):
                renewed, _ = await accounts.reauthenticate(
                    service, reauthentication, request, user_manager, strategy, user, token or "", credential_of(form)
                )
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc, user)
            return site.page(request, "message.html", status_code=400, user=user, errors=[error_from_http(exc)])
        except SessionEnded:  # signed out elsewhere meanwhile
            return site.to_sign_in(request, back)
        target = back if "?" in back else f"{back}?notice=confirmed"
        return site.redirect(target, cookies_from=renewed)


def add_password_confirm(router: APIRouter, pages: PasskeyPages) -> None:
    """``/confirm`` with the password, for an app without two-factor login (whose pages have none)."""
    site = pages.site
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
    reauthentication: Reauthentication[Any, Any] = Reauthentication(site.backend, site.guards["login"])

    def confirm_page(
        request: Request, user: Any, *, status_code: int = 200, errors: list[PageError] | None = None
    ) -> Response:
        urls = {"reauthenticate": request.url_for("pages:reauthenticate").path}
        return site.page(
            request,
            "reauthenticate.html",
            status_code=status_code,
            user=user,
            errors=errors or [],
            needs_code=False,
            mfa_urls=urls,
        )

    @router.get("/confirm", name="pages:reauthenticate")
    async def reauthenticate_page(request: Request, current: Current) -> Response:
        user, _ = current
        return gate(site, request, user) or confirm_page(request, user)

    @router.post("/confirm", name="pages:reauthenticate_submit")
    async def reauthenticate(
        request: Request, current: Current, user_manager: UserManager, strategy: Strategy
    ) -> Response:
        user, token = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        try:
            # The API's re-authentication (the password; no second factor without two-factor login).
            with translate("reauthenticate"):
                assurance = await reauthentication.check(
                    request, user_manager, user, form.get("password", ""), None, None
                )
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc, user)
            return confirm_page(request, user, status_code=400, errors=[error_from_http(exc, "password")])
        back = site.next_url(request, form.get("next", ""))
        try:
            renewed = await reauthentication.renew(request, strategy, user, token or "", assurance)
        except SessionEnded:
            return site.to_sign_in(request, back)
        await user_manager.emit_security_event(
            SecurityEventType.LOGIN_SUCCEEDED,
            request,
            user_id=user.id,
            details={"backend": site.backend.name, "method": "reauthenticate", "aal": str(assurance.aal)},
        )
        target = back if "?" in back else f"{back}?notice=confirmed"
        return site.redirect(target, cookies_from=renewed)
