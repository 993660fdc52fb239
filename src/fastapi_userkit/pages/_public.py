"""The pages of signed-out visitors: sign in, sign up, sign out, forgot/reset password, verify.

Each ``POST`` runs the same domain calls as the JSON routers, under the same rate-limit guards
and inside the same error table (``translate``), so a page refuses exactly what the API refuses
and names it by the same code. A ``GET`` never changes state (ASVS 5.0 3.5.3): the links in
the e-mails open a page whose button ``POST``s the token.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' Annotated
# dependencies, which refer to this factory's local variables.
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response, status
from pydantic import EmailStr, TypeAdapter, ValidationError

from fastapi_userkit import exceptions
from fastapi_userkit._services.registration import register as register_user
from fastapi_userkit._services.sign_in import SignIn
from fastapi_userkit.authentication._context import auth_context
from fastapi_userkit.pages._messages import (
    INVALID_EMAIL,
    INVALID_FIELD,
    PageError,
    error_from_http,
    has_reason,
    page_error,
)
from fastapi_userkit.pages._site import Site
from fastapi_userkit.pages._two_factor_hooks import NO_TWO_FACTOR, TwoFactorHooks
from fastapi_userkit.router._background import after_response
from fastapi_userkit.router.common import translate
from fastapi_userkit.security.events import SecurityEventType

__all__ = ["add_public_pages", "parse_email", "validation_errors"]

_PRIVILEGED = frozenset({"is_active", "is_superuser", "is_verified", "id"})
_EMAIL = TypeAdapter(EmailStr)


def validation_errors(exc: ValidationError) -> list[PageError]:
    """One :class:`PageError` per invalid field of a schema validation."""
    errors: list[PageError] = []
    for item in exc.errors():
        field = str(item["loc"][0]) if item["loc"] else None
        code = INVALID_EMAIL if field == "email" else INVALID_FIELD
        errors.append(page_error(code, field=field))
    return errors


def parse_email(value: str) -> str | None:
    """The address in canonical form, or ``None`` if it is not one."""
    try:
        return str(_EMAIL.validate_python(value.strip()))
    except ValidationError:
        return None


def add_public_pages(router: APIRouter, site: Site, two_factor: TwoFactorHooks = NO_TWO_FACTOR) -> None:
    """Add the signed-out pages to ``router`` (``two_factor``: the second step after the password)."""
    _add_sign_in(router, site, two_factor)
    _add_sign_up(router, site)
    _add_sign_out(router, site)
    _add_link_forms(router, site)
    _add_token_forms(router, site)


def _add_sign_in(router: APIRouter, site: Site, two_factor: TwoFactorHooks) -> None:
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    SecondStep = Annotated[Any, Depends(two_factor.get_second_step)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias, named like one
    backend = site.backend
    signing_in: SignIn[Any, Any] = SignIn(backend, site.guards["login"], site.requires_verification)

    @router.get("/sign-in", name="pages:sign_in")
    async def sign_in_page(request: Request, current: Current) -> Response:
        user, _ = current
        if user is not None:
            return site.redirect(site.next_url(request))
        return site.page(request, "sign_in.html")

    @router.post("/sign-in", name="pages:sign_in_submit")
    async def sign_in(
        request: Request, user_manager: UserManager, strategy: Strategy, second_step: SecondStep
    ) -> Response:
        try:
            form = await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc)
        email = form.get("email", "").strip()
        next_url = site.next_url(request, form.get("next", ""))
        try:
            # The login route's sequence and guard: the same checks, counts and answers.
            with translate("login", "login-verified"):
                user = await signing_in.check_password(request, user_manager, email, form.get("password", ""))
                if two_factor.hand_off is not None:  # issue 18: a user with a factor gets the second step
                    second = await two_factor.hand_off(request, user_manager, user, second_step, next_url)
                    if second is not None:
                        return second
                response = await signing_in.complete(
                    request,
                    user_manager,
                    strategy,
                    user,
                    respond=lambda login: site.redirect(next_url, cookies_from=login),
                )
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc)
            error = error_from_http(exc)
            return site.page(request, "sign_in.html", status_code=400, errors=[error], form=form, next_url=next_url)
        # A new session gets new form tokens (no token outlives the session it was made for).
        site.csrf.rotate(response)
        if site.api_csrf is not None:
            site.api_csrf.set_token_cookie(response, backend.transport)
        return response


def _add_sign_up(router: APIRouter, site: Site) -> None:
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias

    @router.get("/sign-up", name="pages:sign_up")
    async def sign_up_page(request: Request, current: Current) -> Response:
        user, _ = current
        if user is not None:
            return site.redirect(site.next_url(request))
        return site.page(request, "sign_up.html")

    @router.post("/sign-up", name="pages:sign_up_submit")
    async def sign_up(request: Request, user_manager: UserManager, background_tasks: BackgroundTasks) -> Response:
        try:
            form = await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc)
        next_url = site.next_url(request, form.get("next", ""))
        fields = site.user_create_schema.model_fields
        # Extra fields of the app's create schema come from its own template; privileged ones never.
        data = {key: value for key, value in form.items() if key in fields and key not in _PRIVILEGED}
        try:
            user_create = site.user_create_schema.model_validate(data)
        except ValidationError as exc:
            errors = validation_errors(exc)
            return site.page(request, "sign_up.html", status_code=400, errors=errors, form=form, next_url=next_url)
        user = None
        try:
            # Translated outside the guard, which judges a failure by the domain error (issue 17).
            with translate("register"):
                async with site.guards["register"].attempt(request, user_manager, user_create.email):
                    registration = await register_user(
                        user_manager,
                        user_create,
                        request,
                        background_tasks,
                        hide_existing_users=site.hide_existing_users,
                    )
                    user = registration.user
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc)
            errors = [error_from_http(exc, field="password" if has_reason(exc) else "email")]
            return site.page(request, "sign_up.html", status_code=400, errors=errors, form=form, next_url=next_url)
        if user is not None and site.send_verification:
            quiet = (exceptions.UserInactive, exceptions.UserAlreadyVerified)
            background_tasks.add_task(after_response(user_manager.request_verify, *quiet), user, request)
        return site.to_sign_in(request, next_url, notice="signed-up")


def _add_sign_out(router: APIRouter, site: Site) -> None:
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    backend = site.backend

    @router.get("/sign-out", name="pages:sign_out")
    async def sign_out_page(request: Request, current: Current) -> Response:
        user, _ = current
        if user is None:
            return site.to_sign_in(request)
        return site.page(request, "sign_out.html", user=user)

    @router.post("/sign-out", name="pages:sign_out_submit")
    async def sign_out(request: Request, current: Current, user_manager: UserManager) -> Response:
        user, token = current
        try:
            await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc, user)
        context = auth_context(request)
        if user is None or token is None or context is None:
            return site.to_sign_in(request, notice="signed-out")
        logout = await backend.logout_for_request(context.strategy, user, token, request)
        await user_manager.emit_security_event(
            SecurityEventType.LOGOUT, request, user_id=user.id, details={"backend": backend.name}
        )
        response = site.to_sign_in(request, notice="signed-out")
        for value in logout.headers.getlist("set-cookie"):
            response.headers.append("set-cookie", value)
        site.csrf.rotate(response)
        if site.api_csrf is not None:
            site.api_csrf.clear_token_cookie(response, backend.transport)
        return response


def _add_link_forms(router: APIRouter, site: Site) -> None:
    """The forms that e-mail a reset or verification link."""
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias, named like one

    async def send_link(
        request: Request, user_manager: Any, background_tasks: BackgroundTasks, template: str, flow: str
    ) -> Response:
        # Same answer, same work before it, whether or not the address has an account (ASVS 5.0 6.3.8).
        try:
            form = await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc)
        email = parse_email(form.get("email", ""))
        if email is None:
            errors = [page_error(INVALID_EMAIL, field="email")]
            return site.page(request, template, status_code=400, errors=errors, form=form)
        guard = site.guards["forgot_password" if flow == "reset" else "request_verify_token"]
        try:
            with translate():  # the guard's refusals
                async with guard.attempt(request, user_manager, email):
                    user = await user_manager.user_db.get_by_email(email)
        except HTTPException as exc:
            return site.refused(request, exc)
        if user is not None:
            if flow == "reset":
                task = after_response(user_manager.forgot_password, exceptions.UserInactive)
            else:
                task = after_response(
                    user_manager.request_verify, exceptions.UserInactive, exceptions.UserAlreadyVerified
                )
            background_tasks.add_task(task, user, request)
        return site.page(request, template, form={"email": email}, sent_to=email)

    @router.get("/forgot-password", name="pages:forgot_password")
    async def forgot_password_page(request: Request) -> Response:
        return site.page(request, "forgot_password.html", form={"email": request.query_params.get("email", "")})

    @router.post("/forgot-password", name="pages:forgot_password_submit")
    async def forgot_password(
        request: Request, user_manager: UserManager, background_tasks: BackgroundTasks
    ) -> Response:
        return await send_link(request, user_manager, background_tasks, "forgot_password.html", "reset")

    @router.get("/resend-verification", name="pages:resend_verification")
    async def resend_page(request: Request, current: Current) -> Response:
        user, _ = current
        email = user.email if user is not None else request.query_params.get("email", "")
        return site.page(request, "resend_verification.html", user=user, form={"email": email})

    @router.post("/resend-verification", name="pages:resend_verification_submit")
    async def resend(request: Request, user_manager: UserManager, background_tasks: BackgroundTasks) -> Response:
        return await send_link(request, user_manager, background_tasks, "resend_verification.html", "verify")


def _add_token_forms(router: APIRouter, site: Site) -> None:
    """The pages the e-mailed links open."""
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias

    @router.get("/reset-password", name="pages:reset_password")
    async def reset_password_page(request: Request) -> Response:
        return site.page(request, "reset_password.html", token=request.query_params.get("token", ""))

    @router.post("/reset-password", name="pages:reset_password_submit")
    async def reset_password(request: Request, user_manager: UserManager) -> Response:
        try:
            form = await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc)
        token = form.get("token", "")
        try:
            with translate("reset"):
                async with site.guards["reset_password"].attempt(request, user_manager) as attempt:
                    user = await user_manager.reset_password(token, form.get("password", ""), request)
                    # The owner gets back in even while failed logins throttle the account (ASVS 5.0 6.1.1).
                    attempt.forget_login_failures(user.email)
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc)
            errors = [error_from_http(exc, field="password" if has_reason(exc) else None)]
            return site.page(request, "reset_password.html", status_code=400, errors=errors, token=token)
        return site.to_sign_in(request, notice="password-reset")

    @router.get("/verify", name="pages:verify")
    async def verify_page(request: Request, current: Current) -> Response:
        user, _ = current
        return site.page(request, "verify.html", user=user, token=request.query_params.get("token", ""))

    @router.post("/verify", name="pages:verify_submit")
    async def verify(request: Request, current: Current, user_manager: UserManager) -> Response:
        user, _ = current
        try:
            form = await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc, user)
        token = form.get("token", "")
        try:
            with translate("verify"):
                async with site.guards["verify"].attempt(request, user_manager):
                    await user_manager.verify(token, request)
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc, user)
            return site.page(
                request, "verify.html", status_code=400, user=user, errors=[error_from_http(exc)], token=token
            )
        return site.page(request, "verify.html", user=user, verified=True)
