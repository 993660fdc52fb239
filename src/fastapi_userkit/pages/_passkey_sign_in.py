"""Signing in and up with a passkey on the pages: the sign-in page, the sign-up page, the second step.

See :mod:`fastapi_userkit.pages._passkeys`.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' Annotated
# dependencies, which refer to this factory's local variables.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response, status
from pydantic import ValidationError

from fastapi_userkit import exceptions
from fastapi_userkit._mfa_exceptions import MFAChallengeInvalid
from fastapi_userkit._services.sign_in import SignIn
from fastapi_userkit.authentication.assurance import AAL1, AAL2, Assurance
from fastapi_userkit.pages._messages import PageError, error_from_http
from fastapi_userkit.pages._passkey_forms import MAX_TOKEN, SECOND_STEP_PAGES, PasskeyPages, credential_of
from fastapi_userkit.pages._public import validation_errors
from fastapi_userkit.passkeys import accounts
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.router._background import after_response
from fastapi_userkit.router.common import ErrorCode, translate

__all__ = ["add_second_step", "add_sign_in", "add_sign_up"]

_NO_PASSKEY = "Your account has no passkey yet: enter a code instead."
# Never taken from a form (as on the sign-up page); the sign-up has no password at all.
_PRIVILEGED = frozenset({"is_active", "is_superuser", "is_verified", "id", "password"})


async def _passkey_user(
    request: Request,
    user_manager: Any,
    service: PasskeyService,
    credential: dict[str, Any],
    signing_in: SignIn[Any, Any],
) -> tuple[Any, Assurance]:
    """Verify a usernameless assertion under the login rate limit (per address); return its user and assurance.

    Raises:
        PasskeyException: The assertion is refused (a failed login, T47).
        InvalidCredentials: The passkey's user is gone or deactivated.
    """
    async with signing_in.guard.attempt(request, user_manager) as attempt:
        result = await accounts.verify_sign_in(
            service, user_manager, request, credential, backend_name=signing_in.backend.name
        )
        attempt.mark_succeeded()
    try:
        user = await user_manager.get(result.user_id)
    except exceptions.UserNotExists as exc:  # deleted while the ceremony ran
        raise exceptions.InvalidCredentials() from exc
    if not user.is_active:
        raise exceptions.InvalidCredentials()
    return user, Assurance.now(AAL2 if result.user_verified else AAL1)


def add_sign_in(router: APIRouter, pages: PasskeyPages) -> None:
    site = pages.site
    two_factor = pages.two_factor
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
    Service = Annotated[PasskeyService, Depends(pages.get_service)]  # noqa: N806 - a type alias
    SecondStep = Annotated[Any, Depends(two_factor.get_second_step)]  # noqa: N806 - a type alias
    backend = site.backend
    signing_in: SignIn[Any, Any] = SignIn(backend, site.guards["login"], site.requires_verification)

    @router.post("/passkeys/sign-in/options", name="pages:passkey_sign_in_options")
    async def sign_in_options(request: Request, service: Service) -> Response:
        form = await pages.json_form(request)
        if isinstance(form, Response):
            return form
        # Usernameless (no e-mail typed): the browser offers the site's discoverable passkeys.
        return pages.options(await service.authentication_options())

    @router.post("/passkeys/sign-in", name="pages:passkey_sign_in")
    async def sign_in(
        request: Request, user_manager: UserManager, strategy: Strategy, service: Service, second_step: SecondStep
    ) -> Response:
        try:
            form = await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc)
        next_url = site.next_url(request, form.get("next", ""))
        try:
            # The JSON route's verification and events, then the pages' sign-in sequence.
            with translate("passkey", "login", "login-verified"):
                user, assurance = await _passkey_user(request, user_manager, service, credential_of(form), signing_in)
                if site.requires_verification and not user.is_verified:
                    raise exceptions.UserNotVerified()
                if assurance.aal < AAL2 and two_factor.hand_off is not None:
                    # Without user verification a passkey is one factor: a user with a second
                    # factor answers it next, as after a password (issue 18).
                    second = await two_factor.hand_off(request, user_manager, user, second_step, next_url)
                    if second is not None:
                        return second
                response = await signing_in.complete(
                    request,
                    user_manager,
                    strategy,
                    user,
                    respond=lambda login: site.redirect(next_url, cookies_from=login),
                    assurance=assurance,
                )
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc)
            error = error_from_http(exc)
            return site.page(request, "sign_in.html", status_code=400, errors=[error], next_url=next_url)
        # A new session gets new form tokens, as after a password sign-in.
        site.csrf.rotate(response)
        if site.api_csrf is not None:
            site.api_csrf.set_token_cookie(response, backend.transport)
        return response


def add_sign_up(router: APIRouter, pages: PasskeyPages) -> None:
    """ "Create an account with a passkey": no password (item 5), through the registration service."""
    site = pages.site
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
    Service = Annotated[PasskeyService, Depends(pages.get_service)]  # noqa: N806 - a type alias
    backend = site.backend
    signing_in: SignIn[Any, Any] = SignIn(backend, site.guards["login"], site.requires_verification)
    fields_model = accounts.signup_fields_model(site.user_create_schema)

    @router.post("/passkeys/sign-up/options", name="pages:passkey_sign_up_options")
    async def sign_up_options(request: Request, user_manager: UserManager, service: Service) -> Response:
        form = await pages.json_form(request)
        if isinstance(form, Response):
            return form
        # The app's create schema without the password; privileged fields never come from a form.
        names = set(fields_model.model_fields) - _PRIVILEGED
        try:
            fields = fields_model.model_validate({key: value for key, value in form.items() if key in names})
        except ValidationError as exc:
            return pages.json_error(validation_errors(exc)[0], status.HTTP_400_BAD_REQUEST)
        try:
            with translate("passkey-signup", "register"):
                async with site.guards["register"].attempt(request, user_manager, fields.email):
                    options = await accounts.begin_signup(service, user_manager, fields)
        except HTTPException as exc:
            return pages.json_error(error_from_http(exc), exc.status_code)
        return pages.options(options)

    @router.post("/passkeys/sign-up", name="pages:passkey_sign_up")
    async def sign_up(
        request: Request, user_manager: UserManager, strategy: Strategy, service: Service, background: BackgroundTasks
    ) -> Response:
        try:
            form = await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc)
        next_url = site.next_url(request, form.get("next", ""))
        try:
            with translate("passkey", "register"):
                # The account's fields waited with the challenge, server side: none is read from this form.
                user, _, assurance = await accounts.complete_signup(
                    service, user_manager, site.user_create_schema, credential_of(form), request
                )
                if site.requires_verification and not user.is_verified:
                    response = None
                else:
                    response = await signing_in.complete(
                        request,
                        user_manager,
                        strategy,
                        user,
                        respond=lambda login: site.redirect(next_url, cookies_from=login),
                        assurance=assurance,
                    )
        except HTTPException as exc:  # the passkey's and the registration's refusals: 400
            error = error_from_http(exc)
            return site.page(request, "sign_up.html", status_code=exc.status_code, errors=[error], next_url=next_url)
        if site.send_verification:
            quiet = (exceptions.UserInactive, exceptions.UserAlreadyVerified)
            background.add_task(after_response(user_manager.request_verify, *quiet), user, request)
        if response is None:  # verified users only: the link in the e-mail comes first
            return site.to_sign_in(request, next_url, notice="signed-up")
        site.csrf.rotate(response)
        if site.api_csrf is not None:
            site.api_csrf.set_token_cookie(response, backend.transport)
        return response


def add_second_step(router: APIRouter, pages: PasskeyPages, code_page: Callable[..., Response]) -> None:
    """Add "Use a passkey" to the second step of a password sign-in (with two-factor login only).

    The passkey answers the sign-in's challenge (the token in the code page's form) through
    :func:`~fastapi_userkit.passkeys.accounts.complete_second_step`: the options list the user's
    passkeys and are bound to the challenge; each try counts against its attempts.

    Args:
        router: The pages router.
        pages: The passkey parts.
        code_page: Renders the second-step page again (``request``, ``token``, ``next_url``,
            ``status_code``, ``errors``).
    """
    # Imported here: the two-factor pages need the ``mfa`` extra, and only an app with it calls this.
    from fastapi_userkit.pages._second_step import mfa_error

    site = pages.site
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Strategy = Annotated[Any, Depends(site.backend.strategy_dependency)]  # noqa: N806 - a type alias
    Service = Annotated[PasskeyService, Depends(pages.get_service)]  # noqa: N806 - a type alias
    SecondStep = Annotated[Any, Depends(pages.two_factor.get_second_step)]  # noqa: N806 - a type alias
    signing_in: SignIn[Any, Any] = SignIn(site.backend, site.guards["login"], site.requires_verification)

    def token_of(form: dict[str, str]) -> str:
        token = form.get("challenge_token", "")
        if not token or len(token) > MAX_TOKEN:
            raise MFAChallengeInvalid()
        return token

    @router.post("/passkeys/second-step/options", name="pages:passkey_second_step_options")
    async def second_step_options(
        request: Request, user_manager: UserManager, service: Service, second_step: SecondStep
    ) -> Response:
        form = await pages.json_form(request)
        if isinstance(form, Response):
            return form
        try:
            with translate("mfa-challenge", "passkey"):
                options = await accounts.second_step_options(
                    service, signing_in, user_manager, second_step, token_of(form)
                )
        except HTTPException as exc:
            if exc.detail == ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL:
                return pages.json_error(PageError(exc.detail, _NO_PASSKEY), exc.status_code)
            return pages.json_error(mfa_error(exc), exc.status_code)
        return pages.options(options)

    @router.post("/passkeys/second-step", name="pages:passkey_second_step")
    async def second_step(
        request: Request, user_manager: UserManager, strategy: Strategy, service: Service, second_step: SecondStep
    ) -> Response:
        try:
            form = await site.form(request)
        except HTTPException as exc:
            return site.refused(request, exc)
        next_url = site.next_url(request, form.get("next", ""))
        token = form.get("challenge_token", "")
        try:
            with translate("mfa-challenge", "passkey"):
                login = await accounts.complete_second_step(
                    service,
                    signing_in,
                    request,
                    user_manager,
                    strategy,
                    second_step,
                    token_of(form),
                    credential_of(form),
                )
        except HTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                return site.refused(request, exc)
            error = mfa_error(exc)
            if exc.detail == ErrorCode.MFA_CHALLENGE_INVALID:  # start over
                return site.page(request, "sign_in.html", status_code=400, errors=[error], next_url=next_url)
            return code_page(request, token, next_url, status_code=400, errors=[error])
        response = site.redirect(next_url, cookies_from=login)
        # A new session gets new form tokens, as after a code.
        site.csrf.rotate(response)
        if site.api_csrf is not None:
            site.api_csrf.set_token_cookie(response, site.backend.transport)
        return response

    site.optional_pages.extend(SECOND_STEP_PAGES)
