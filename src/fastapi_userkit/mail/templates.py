"""Jinja2 templates of the account e-mails, overridable through a search path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi_userkit.exceptions import ConfigurationError

__all__ = ["MAIL_KINDS", "MailKind", "MailTemplates", "RenderedMail"]

MailKind = Literal["verify", "reset_password", "password_changed", "new_login", "mfa_changed", "passkey_changed"]
"""The account e-mails the library sends."""

MAIL_KINDS: tuple[MailKind, ...] = (
    "verify",
    "reset_password",
    "password_changed",
    "new_login",
    "mfa_changed",
    "passkey_changed",
)


@dataclass(frozen=True)
class RenderedMail:
    """A rendered e-mail: subject, plain-text body and HTML body."""

    subject: str
    text: str
    html: str


class MailTemplates:
    """Renders the account e-mails from Jinja2 templates (the ``mail`` extra).

    Each kind of e-mail is a folder with three templates: ``subject.txt``, ``body.txt`` and
    ``body.html``, e.g. ``reset_password/body.html``. A file of the same path in a folder of
    ``search_path`` replaces the built-in one, so an application overrides only what it wants.
    HTML templates are autoescaped; undefined variables are errors, so a typo in an override
    fails loudly instead of sending a blank link.

    The templates receive: ``app_name``, ``email`` (the recipient), ``user``, ``link`` (verify
    and reset), ``lifetime_minutes`` (verify and reset), ``ip_address`` and ``user_agent``
    (new login, may be ``None``), ``when`` (a UTC :class:`~datetime.datetime`), plus any
    ``extra_context`` given here.

    Args:
        search_path: Folders searched before the built-in templates.
        extra_context: Variables available to every template (support address, logo URL, ...).

    Raises:
        ConfigurationError: Jinja2 is not installed, or a search-path entry is not a folder.
    """

    def __init__(
        self, search_path: Sequence[str | Path] = (), *, extra_context: Mapping[str, Any] | None = None
    ) -> None:
        try:
            import jinja2
        except ImportError as exc:
            raise ConfigurationError("MailTemplates needs Jinja2: pip install 'fastapi-userkit[mail]'") from exc
        folders = [Path(entry) for entry in search_path]
        for folder in folders:
            if not folder.is_dir():
                raise ConfigurationError(f"Mail template folder {folder} does not exist")
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(folders)] if folders else []
        loaders.append(jinja2.PackageLoader("fastapi_userkit.mail", "templates"))
        self._environment = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self.extra_context = dict(extra_context or {})

    def render(self, kind: MailKind, context: Mapping[str, Any]) -> RenderedMail:
        """Render the three templates of ``kind``.

        Raises:
            jinja2.TemplateError: A template is missing, malformed or uses an undefined variable.
        """
        variables = {**self.extra_context, **context}
        subject = self._environment.get_template(f"{kind}/subject.txt").render(variables)
        return RenderedMail(
            # A header cannot hold a line break; templates end with one.
            subject=" ".join(subject.split()),
            text=self._environment.get_template(f"{kind}/body.txt").render(variables),
            html=self._environment.get_template(f"{kind}/body.html").render(variables),
        )
