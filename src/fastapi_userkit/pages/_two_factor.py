"""The account's two-factor pages: state, TOTP enrolment, recovery codes, turning it off (issue 18, item 7).

No page needs JavaScript. Enrolment is two ``POST`` forms, as the JSON routes' two steps: the
first makes the secret and shows it once, as an inline SVG QR code drawn on the server (no
external service sees the secret) and as text for typing in by hand; the second takes a first
code and only then turns the factor on, showing the recovery codes once, in a block that copies
cleanly and as a ``data:`` link that downloads them as a text file (nothing is stored to serve
them again: only their digests are kept, T42). Every answer carrying a secret or codes is
``Cache-Control: no-store`` (as every page).

For a user who has a factor, new recovery codes and turning the factor off need a fresh
two-factor sign-in ("confirm it's you", T43). Beginning a first enrolment needs a sign-in (any
level) at most ``MFA.step_up_within`` seconds old, as the JSON route does: a stale session goes
through "confirm it's you" first, so a stolen long-lived session cannot enrol its thief's
authenticator. (Confirming the code needs nothing more: only whoever began the enrolment saw its
secret.) A ``GET`` never changes state (ASVS 5.0 3.5.3).
"""

# No ``from __future__ import annotations``: FastAPI evaluates the routes' Annotated
# dependencies, which refer to this factory's local variables.
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response, status
from markupsafe import Markup

from fastapi_userkit.authentication.assurance import UNKNOWN_ASSURANCE
from fastapi_userkit.authentication.step_up import request_assurance
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.mfa.service import MFAService, MFAStatus
from fastapi_userkit.pages._account import checked_form, gate
from fastapi_userkit.pages._second_step import MFA_NOTICES, TwoFactorPages, mfa_error
from fastapi_userkit.pages._two_factor_hooks import Confirm, TwoFactorHooks
from fastapi_userkit.router.common import ErrorCode, translate
from fastapi_userkit.security.events import SecurityEventType

__all__ = ["TwoFactorView", "add_two_factor_pages", "two_factor_hooks", "two_factor_view"]

_MAX_CODE = 64


@dataclass(frozen=True)
class TwoFactorView:
    """The account page's two-factor section: the state and where to manage it."""

    enabled: bool
    recovery_codes_left: int
    enrolment_pending: bool
    url: str
    notice: str | None


def two_factor_view(pages: TwoFactorPages) -> Any:
    """A dependency giving the account page's :class:`TwoFactorView` for the current user."""
    site = pages.site
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias

    async def get_view(
        request: Request, current: Current, service: Annotated[MFAService, Depends(pages.get_service)]
    ) -> TwoFactorView | None:
        user, _ = current
        if user is None:
            return None
        found = await service.status(user.id)
        return TwoFactorView(
            enabled=found.enabled,
            recovery_codes_left=found.recovery_codes_left,
            enrolment_pending=found.enrolment_pending,
            url=request.url_for("pages:two_factor").path,
            notice=MFA_NOTICES.get(request.query_params.get("notice", "")),
        )

    return get_view


def two_factor_hooks(pages: TwoFactorPages) -> TwoFactorHooks:
    """What the sign-in and account pages call of ``pages``."""
    return TwoFactorHooks(
        get_second_step=pages.get_second_step,
        hand_off=pages.hand_off,
        get_confirm=pages.confirmation(),
        get_view=two_factor_view(pages),
    )


def _recent_sign_in(pages: TwoFactorPages, request: Request) -> bool:
    """Whether the request's sign-in (any level) is at most ``MFA.step_up_within`` seconds old."""
    assurance = request_assurance(request) or UNKNOWN_ASSURANCE
    return assurance.is_fresh(pages.mfa.step_up_within, now_utc())


def _grouped(secret: str) -> str:
    """The secret in groups of four characters, as authenticator apps show and accept it."""
    return " ".join(secret[start : start + 4] for start in range(0, len(secret), 4))


async def _state_page(
    pages: TwoFactorPages,
    request: Request,
    user: Any,
    service: MFAService,
    *,
    status_code: int = 200,
    errors: list[Any] | None = None,
) -> Response:
    found: MFAStatus = await service.status(user.id)
    return pages.page(request, "two_factor.html", status_code=status_code, user=user, errors=errors or [], status=found)


def _codes_page(pages: TwoFactorPages, request: Request, user: Any, codes: list[str], *, enabled_now: bool) -> Response:
    return pages.page(
        request,
        "two_factor_codes.html",
        user=user,
        codes=codes,
        codes_text="\n".join(codes) + "\n",
        enabled_now=enabled_now,
    )


def _enrol_page(
    pages: TwoFactorPages,
    request: Request,
    user: Any,
    *,
    secret: str | None = None,
    qr_svg: str | None = None,
    status_code: int = 200,
    errors: list[Any] | None = None,
) -> Response:
    return pages.page(
        request,
        "two_factor_enrol.html",
        status_code=status_code,
        user=user,
        errors=errors or [],
        secret=_grouped(secret) if secret else None,
        # segno draws the SVG from the otpauth URI alone (no text of the user's in it): safe to inline.
        qr_svg=Markup(qr_svg) if qr_svg else None,  # noqa: S704 - the library's own SVG, see above
    )


async def _refused(
    pages: TwoFactorPages, request: Request, user: Any, service: MFAService, exc: HTTPException
) -> Response:
    if exc.status_code != status.HTTP_400_BAD_REQUEST:
        return pages.site.refused(request, exc, user)
    return await _state_page(pages, request, user, service, status_code=400, errors=[mfa_error(exc)])


async def _announce(
    request: Request, background: BackgroundTasks, manager: Any, user: Any, event: SecurityEventType, change: str
) -> None:
    """Record a change of the factors and e-mail the user after the response (T43; as the JSON routes do)."""
    await manager.emit_security_event(event, request, user_id=user.id)
    if manager.mailer is not None:
        background.add_task(manager.mailer.send_mfa_changed, user, change)


def add_two_factor_pages(router: APIRouter, pages: TwoFactorPages) -> None:
    """Add ``/two-factor`` and its forms to ``router``."""
    _add_enrolment(router, pages)
    _add_management(router, pages)


def _add_enrolment(router: APIRouter, pages: TwoFactorPages) -> None:
    site = pages.site
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    Service = Annotated[MFAService, Depends(pages.get_service)]  # noqa: N806 - a type alias
    ConfirmFirst = Annotated[Confirm, Depends(pages.confirmation())]  # noqa: N806 - a type alias

    @router.get("/two-factor", name="pages:two_factor")
    async def two_factor(request: Request, current: Current, service: Service) -> Response:
        user, _ = current
        return gate(site, request, user) or await _state_page(pages, request, user, service)

    @router.post("/two-factor/totp", name="pages:two_factor_enrol")
    async def enrol(request: Request, current: Current, service: Service, confirm: ConfirmFirst) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        if (stale := await confirm(request, user)) is not None:
            return stale
        if not _recent_sign_in(pages, request):  # T43: a first factor too, from a recent sign-in only
            return pages.to_confirm(request)
        try:
            with translate("mfa"):
                enrolment = await service.begin_totp(user.id, user.email)
        except HTTPException as exc:
            return await _refused(pages, request, user, service, exc)
        return _enrol_page(pages, request, user, secret=enrolment.secret, qr_svg=enrolment.qr_svg)

    @router.post("/two-factor/totp/confirm", name="pages:two_factor_confirm")
    async def confirm_enrolment(
        request: Request, current: Current, service: Service, user_manager: UserManager, background: BackgroundTasks
    ) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        try:
            with translate("mfa"):
                codes = await service.confirm_totp(user.id, form.get("code", "").strip()[:_MAX_CODE])
        except HTTPException as exc:
            if exc.detail == ErrorCode.MFA_INVALID_CODE:
                # The key is never shown again: the page asks for the code once more (or a new start).
                return _enrol_page(pages, request, user, status_code=400, errors=[mfa_error(exc, "code")])
            return await _refused(pages, request, user, service, exc)
        change = "two-factor sign-in was turned on"
        await _announce(request, background, user_manager, user, SecurityEventType.MFA_ENABLED, change)
        return _codes_page(pages, request, user, codes, enabled_now=True)


def _add_management(router: APIRouter, pages: TwoFactorPages) -> None:
    site = pages.site
    UserManager = Annotated[Any, Depends(site.get_user_manager)]  # noqa: N806 - a type alias, named like one
    Current = Annotated[tuple[Any, str | None], Depends(site.current_user_token)]  # noqa: N806 - a type alias
    Service = Annotated[MFAService, Depends(pages.get_service)]  # noqa: N806 - a type alias
    ConfirmFirst = Annotated[Confirm, Depends(pages.confirmation())]  # noqa: N806 - a type alias

    @router.post("/two-factor/recovery-codes", name="pages:two_factor_recovery_codes")
    async def regenerate(
        request: Request,
        current: Current,
        service: Service,
        user_manager: UserManager,
        confirm: ConfirmFirst,
        background: BackgroundTasks,
    ) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        if (stale := await confirm(request, user)) is not None:  # T43
            return stale
        try:
            with translate("mfa"):
                codes = await service.regenerate_recovery_codes(user.id)
        except HTTPException as exc:
            return await _refused(pages, request, user, service, exc)
        change = "new recovery codes were made and the old ones stopped working"
        event = SecurityEventType.MFA_RECOVERY_CODES_REGENERATED
        await _announce(request, background, user_manager, user, event, change)
        return _codes_page(pages, request, user, codes, enabled_now=False)

    @router.post("/two-factor/disable", name="pages:two_factor_disable")
    async def disable(
        request: Request,
        current: Current,
        service: Service,
        user_manager: UserManager,
        confirm: ConfirmFirst,
        background: BackgroundTasks,
    ) -> Response:
        user, _ = current
        form = await checked_form(site, request, user)
        if isinstance(form, Response):
            return form
        if (stale := await confirm(request, user)) is not None:  # T43
            return stale
        try:
            with translate("mfa"):
                await service.disable(user.id)
        except HTTPException as exc:
            return await _refused(pages, request, user, service, exc)
        change = "two-factor sign-in was turned off"
        await _announce(request, background, user_manager, user, SecurityEventType.MFA_DISABLED, change)
        url = request.url_for("pages:two_factor").include_query_params(notice="two-factor-off")
        return site.redirect(f"{url.path}?{url.query}")
