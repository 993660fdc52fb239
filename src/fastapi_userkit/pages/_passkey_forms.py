"""The passkey parts of one pages router: configuration, the script's answers, the form fields.

See :mod:`fastapi_userkit.pages._passkeys` for the flows.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the dependencies' Annotated
# parameters, which refer to local variables.
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse

from fastapi_userkit._oauth_accounts import has_usable_password
from fastapi_userkit._passkey_exceptions import InvalidPasskeyPayload, UnknownPasskey
from fastapi_userkit.authentication.assurance import UNKNOWN_ASSURANCE
from fastapi_userkit.authentication.step_up import request_assurance
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.pages._messages import PageError, error_from_http
from fastapi_userkit.pages._site import Site
from fastapi_userkit.pages._two_factor_hooks import Confirm, TwoFactorHooks
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.passkeys.store import PasskeyCredential

__all__ = [
    "MAX_TOKEN",
    "PASSKEY_PAGES",
    "SECOND_STEP_PAGES",
    "SIGN_UP_PAGES",
    "PasskeyPages",
    "PasskeysView",
    "credential_of",
    "passkey_id_of",
    "passkeys_script_text",
]

PASSKEY_PAGES = (
    "passkeys_script",
    "passkey_sign_in_options",
    "passkey_sign_in",
    "passkey_add_options",
    "passkey_add",
    "passkey_rename",
    "passkey_delete",
    "passkey_confirm_options",
    "passkey_confirm",
    "passkey_set_password",
)
"""Route names (without ``pages:``) of the passkey endpoints; templates find them in ``urls``."""

SIGN_UP_PAGES = ("passkey_sign_up_options", "passkey_sign_up")
"""Route names of "Create an account with a passkey" (when offered)."""

SECOND_STEP_PAGES = ("passkey_second_step_options", "passkey_second_step")
"""Route names of "Use a passkey" on the second step of a password sign-in (with two-factor login)."""

# A challenge token is 43 characters; anything longer is refused unread.
MAX_TOKEN = 128

# A credential's JSON is a few hundred bytes to a few kilobytes (an attestation with a
# certificate chain); anything far larger is refused unread.
_MAX_CREDENTIAL = 64 * 1024


def passkeys_script_text() -> str:
    """The pages' passkey script."""
    files = resources.files("fastapi_userkit.pages")
    return files.joinpath("static/userkit-passkeys.js").read_text(encoding="utf-8")


@dataclass(frozen=True)
class PasskeysView:
    """The account page's passkeys section: the user's passkeys, oldest first, and whether they have a password."""

    passkeys: list[PasskeyCredential]
    has_password: bool = True


def credential_of(form: dict[str, str]) -> dict[str, Any]:
    """The ``credential`` field's JSON object.

    Raises:
        InvalidPasskeyPayload: Missing, too long, not JSON, or not an object.
    """
    text = form.get("credential", "")
    if not text or len(text) > _MAX_CREDENTIAL:
        raise InvalidPasskeyPayload("The form carries no passkey response.")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidPasskeyPayload("The passkey response is not JSON.") from exc
    if not isinstance(value, dict):
        raise InvalidPasskeyPayload("The passkey response must be a JSON object.")
    return value


def passkey_id_of(value: str) -> uuid.UUID:
    """A passkey id from a form.

    Raises:
        UnknownPasskey: Not a UUID (so no passkey of the user's).
    """
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise UnknownPasskey from exc


@dataclass(frozen=True)
class PasskeyPages:
    """The passkey parts of one pages router.

    Args:
        site: The pages' configuration and helpers.
        get_service: The app's dependency giving the request's :class:`PasskeyService`.
        two_factor: The two-factor hooks (the second step of a sign-in without user
            verification, the fresh two-factor rule, the account page's section).
        fresh_within: Seconds since sign-in within which a user may add, rename or delete
            passkeys without confirming it's them (the JSON routes' default, 300).
    """

    site: Site
    get_service: Callable[..., Any]
    two_factor: TwoFactorHooks
    fresh_within: int = 300

    # -- answers of the script's endpoints ---------------------------------------------------

    def json_error(self, error: PageError, status_code: int) -> Response:
        """The options endpoints' refusal: the code and its sentence, which the script shows."""
        response = JSONResponse({"code": error.code, "message": error.message}, status_code=status_code)
        self.site.renderer.protect(response)
        return response

    def json_redirect(self, url: str) -> Response:
        """Tell the script to open ``url`` (sign in, or confirm it's you, first)."""
        response = JSONResponse({"redirect": url}, status_code=status.HTTP_401_UNAUTHORIZED)
        self.site.renderer.protect(response)
        return response

    def options(self, options: dict[str, Any]) -> Response:
        """A ceremony's options for the script; never cached (the challenge is single-use)."""
        response = JSONResponse(options)
        self.site.renderer.protect(response)
        return response

    async def json_form(self, request: Request) -> dict[str, str] | Response:
        """The options request's form after the CSRF checks, or the JSON refusal."""
        try:
            return await self.site.form(request)
        except HTTPException as exc:
            return self.json_error(error_from_http(exc), exc.status_code)

    # -- freshness ---------------------------------------------------------------------------

    def to_confirm(self, request: Request) -> str:
        """The "confirm it's you" page's URL, coming back to the account page."""
        url = request.url_for("pages:reauthenticate").include_query_params(next=request.url_for("pages:account").path)
        return f"{url.path}?{url.query}"

    async def stale(self, request: Request, user: Any, confirm: Confirm) -> str | None:
        """Where a change must go first (``None``: the sign-in is fresh enough), as the JSON routes judge it."""
        assurance = request_assurance(request) or UNKNOWN_ASSURANCE
        if not assurance.is_fresh(self.fresh_within, now_utc()):
            return self.to_confirm(request)
        # With two-factor login: a user with a factor needs a fresh two-factor sign-in (T43).
        if await confirm(request, user) is not None:
            return self.to_confirm(request)
        return None

    def get_view(self) -> Callable[..., Any]:
        """A dependency giving the account page's :class:`PasskeysView` (``None`` when signed out)."""
        Current = Annotated[tuple[Any, str | None], Depends(self.site.current_user_token)]  # noqa: N806 - a type alias
        Service = Annotated[PasskeyService, Depends(self.get_service)]  # noqa: N806 - a type alias

        async def get_passkeys_view(current: Current, service: Service) -> PasskeysView | None:
            user, _ = current
            if user is None:
                return None
            return PasskeysView(await service.list_passkeys(user.id), has_usable_password(user.hashed_password))

        return get_passkeys_view
