"""The account page: change e-mail, change password, sessions, linked OAuth accounts.

Changing the e-mail address or the password asks for the current password (ASVS 5.0 6.2.3,
7.5.1); a wrong one counts as a failed login for the account's throttle (T09). A password
change ends every other session (the manager does it) and gives this browser a fresh cookie.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' Annotated
# dependencies, which refer to this factory's local variables.
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import ValidationError

from fastapi_userkit import exceptions
from fastapi_userkit.authentication._context import auth_context
from fastapi_userkit.pages._email_hooks import NO_EMAIL_CHANGE, EmailHooks
from fastapi_userkit.pages._messages import (
    CURRENT_PASSWORD_WRONG,
    SESSION_NOT_FOUND,
    PageError,
    error_from_http,
    page_error,
)
from fastapi_userkit.pages._passkey_hooks import NO_PASSKEYS, PasskeyHooks
from fastapi_userkit.pages._public import validation_errors
from fastapi_userkit.pages._site import Site
from fastapi_userkit.pages._two_factor_hooks import NO_TWO_FACTOR, Confirm, TwoFactorHooks
from fastapi_userkit.router._background import after_response
from fastapi_userkit.router.common import ErrorCode, translate
from fastapi_userkit.security.events import SecurityEventOutcome, SecurityEventType
from fastapi_userkit.sessions import flow as session_flow

__all__ = ["account_page", "add_account_pages", "check_password", "checked_form", "done", "gate"]


def _current_session(request: Request) -> uuid.UUID | None:
    context = auth_context(request)
    return None if context is None else session_flow.bound_session_id(context.strategy, context.token)


def gate(site: Site, request: Request, user: Any) -> Response | None:
    """The answer for a visitor who may not use the account page, or ``None``."""
    if user is None:
        return site.to_sign_in(request, request.url_for("pages:account").path)
    if site.requires_verification and not user.is_verified:
        error = page_error(ErrorCode.LOGIN_USER_NOT_VERIFIED)
        return site.page(request, "message.html", status_code=403, user=user, errors=[error])
    return None


async def account_page(
    site: Site,
    request: Request,
    user: Any,
    *,
    status_code: int = 200,
    errors: list[PageError] | None = None,
    two_factor: Any = None,
    email_change: Any = None,
    passkeys: Any = None,
    **form: Any,
) -> Response:
    """Render the account page (``two_factor``, ``email_change``: its optional sections, when there are)."""
    sessions = site.backend.sessions
    live = await sessions.live_sessions(user) if sessions is not None else None
    return site.page(
        request,
        "account.html",
        status_code=status_code,
        user=user,
        errors=errors or [],
        form=form,
        sessions=live,
        current_session=_current_session(request),
        oauth_accounts=getattr(user, "oauth_accounts", None),
        two_factor=two_factor,
        email_change=email_change,
        passkeys=passkeys,
    )


async def check_password(site: Site, request: Request, user_manager: Any, user: Any, password: str) -> None:
    """Re-authenticate with the current password, under the login throttle (ASVS 5.0 6.2.3).

    Raises:
        CurrentPasswordInvalid: The password is wrong (counted as a failed login by its type).
        RateLimited: The login guard's refusal.
    """
    async with site.guards["login"].attempt(request, user_manager, user.email):
        credentials = OAuth2PasswordRequestForm(username=user.email, password=password)
        verified = await user_manager.authenticate(credentials)
        if verified is None or verified.id != user.id:
            await user_manager.emit_security_event(
                SecurityEventType.LOGIN_FAILED,
                request,
                user_id=user.id,
                outcome=SecurityEventOutcome.FAILURE,
                details={"backend": site.backend.name, "reason": "current_password"},
            )
            raise exceptions.CurrentPasswordInvalid()


async def _refused_change(
    site: Site,
    request: Request,
    user: Any,
    exc: HTTPException | exceptions.CurrentPasswordInvalid,
    fields: tuple[str, str],
    **form: Any,
) -> Response:
    """The account page refusing a change; ``fields``: the current-password field and the changed one."""
    if isinstance(exc, exceptions.CurrentPasswordInvalid):
        # The pages' own code and sentence for it (the JSON API's code names the PATCH route).
        errors = [page_error(CURRENT_PASSWORD_WRONG, field=fields[0])]
    elif exc.status_code != status.HTTP_400_BAD_REQUEST:
        return site.refused(request, exc, user)
    else:
        errors = [error_from_http(exc, field=fields[1])]
    return await account_page(site, request, user, status_code=400, errors=errors, **form)


def done(site: Site, request: Request, notice: str, cookies_from: Response | None = None) -> Response:
    """Back to the account page, with a notice."""
    url = request.url_for("pages:account").include_query_params(notice=notice)
    return site.redirect(f"{url.path}?{url.query}", cookies_from=cookies_from)


async def checked_form(site: Site, request: Request, user: Any) -> dict[str, str] | Response:
    """The form of a signed-in user, or the answer refusing it (CSRF, not signed in, not verified)."""
    try:
        form = await site.form(request)
    except HTTPException as exc:
        return site.refused(request, exc, user)
    return gate(site, request, user) or form


def add_account_pages(
    router: APIRouter,
    site: Site,
    two_factor: TwoFactorHooks = NO_TWO_FACTOR,
    email: EmailHooks = NO_EMAIL_CHANGE,
    passkeys: PasskeyHooks = NO_PASSKEYS,
) -> None:
    """Add the account page and its forms to ``router``.

    ``two_factor``: its section and freshness rule; ``email``: the confirmed e-mail change (issue 20);
    ``passkeys``: the passkeys section (issue 19).
    """
    _add_profile_forms(router, site, two_factor, email, passkeys)
    _add_session_forms(router, site)


def _add_profile_forms(
    router: APIRouter, site: Site, two_factor: TwoFactorHooks, email: EmailHooks, passkeys: PasskeyHooks
) -> None:
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    ConfirmFirst = Annotated[Confirm, Depends(two_factor.get_confirm)]  # noqa: N806 - a type alias
    TwoFactorView = Annotated[Any, Depends(two_factor.get_view)]  # noqa: N806 - a type alias
    EmailChange = Annotated[Any, Depends(email.get_change)]  # noqa: N806 - a type alias
    PasskeysView = Annotated[Any, Depends(passkeys.get_view)]  # noqa: N806 - a type alias

    @router.get("/", name="pages:account")
    async def account(
        request: Request, current: Current, view: TwoFactorView, email_change: EmailChange, keys: PasskeysView
    ) -> Response:
        user, _ = current
        return gate(site, request, user) or await account_page(
            site,
            request,
            user,
            two_factor=view,
            email_change=None if email_change is None else await email_change.view(request, user),
            passkeys=keys,
        )

    @router.post("/email", name="pages:change_email")
    async def change_email(
        request: Request,
        current: Current,
        user_manager: UserManager,
        background_tasks: BackgroundTasks,
        confirm: ConfirmFirst,
        email_change: EmailChange,
    ) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        if (stale := await confirm(request, user)) is not None:  # T43: a fresh second factor first
            return stale
        if email_change is not None:  # issue 20: the new address confirms first, the old one can revert (T40)
            return await email_change.submit(request, user, user_manager, form, background_tasks)  # type: ignore[no-any-return]
        email = form.get("email", "")
        try:
            update = site.user_update_schema.model_validate({"email": email.strip()})
        except ValidationError as exc:
            return await account_page(site, request, user, status_code=400, errors=validation_errors(exc), email=email)
        try:
            with translate("update"):
                await check_password(site, request, user_manager, user, form.get("current_password", ""))
                updated = await user_manager.update(update, user, safe=True, request=request)
        except (HTTPException, exceptions.CurrentPasswordInvalid) as exc:
            return await _refused_change(site, request, user, exc, ("email_current_password", "email"), email=email)
        if site.send_verification and not updated.is_verified:
            quiet = (exceptions.UserInactive, exceptions.UserAlreadyVerified)
            background_tasks.add_task(after_response(user_manager.request_verify, *quiet), updated, request)
        return done(site, request, "email-changed")

    @router.post("/password", name="pages:change_password")
    async def change_password(
        request: Request, current: Current, user_manager: UserManager, confirm: ConfirmFirst
    ) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        if (stale := await confirm(request, user)) is not None:  # T43: a fresh second factor first
            return stale
        try:
            with translate("update"):
                await check_password(site, request, user_manager, user, form.get("current_password", ""))
                update = site.user_update_schema.model_validate({"password": form.get("new_password", "")})
                updated = await user_manager.update(update, user, safe=True, request=request)
        except (HTTPException, exceptions.CurrentPasswordInvalid) as exc:
            return await _refused_change(site, request, user, exc, ("current_password", "new_password"))
        # The change ended every session, this one included: this browser gets a fresh one (T23).
        context = auth_context(request)
        renewed = Response()
        if context is not None:
            await session_flow.renew_cookie_login(context.backend, context.strategy, updated, request, renewed)
        return done(site, request, "password-changed", cookies_from=renewed)

    @router.post("/oauth/unlink", name="pages:unlink_oauth")
    async def unlink_oauth(request: Request, current: Current, user_manager: UserManager) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        try:
            with translate("oauth-unlink"):
                await user_manager.oauth_unlink(user, form.get("oauth_name", ""), form.get("account_id", ""), request)
        except HTTPException as exc:
            errors = [error_from_http(exc)]
            return await account_page(site, request, user, status_code=exc.status_code, errors=errors)
        return done(site, request, "oauth-unlinked")


def _add_session_forms(router: APIRouter, site: Site) -> None:
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    sessions = site.backend.sessions

    async def revoked(user_manager: Any, request: Request, user: Any, scope: str) -> None:
        details = {"scope": scope, "by": "self"}
        await user_manager.emit_security_event(
            SecurityEventType.SESSIONS_REVOKED, request, user_id=user.id, details=details
        )

    @router.post("/sessions/end", name="pages:end_session")
    async def end_session(request: Request, current: Current, user_manager: UserManager) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        live = await sessions.live_sessions(user) if sessions is not None else []
        target = next((session for session in live if str(session.id) == form.get("session_id")), None)
        if sessions is None or target is None:
            return await account_page(site, request, user, status_code=404, errors=[page_error(SESSION_NOT_FOUND)])
        await sessions.end(target.id)
        await revoked(user_manager, request, user, "one")
        return done(site, request, "session-ended")

    @router.post("/sessions/end-others", name="pages:end_other_sessions")
    async def end_other_sessions(request: Request, current: Current, user_manager: UserManager) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        if sessions is not None:
            await sessions.end_all(user.id, keep=_current_session(request))
            await revoked(user_manager, request, user, "others")
        return done(site, request, "sessions-ended")
