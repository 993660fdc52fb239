"""The configuration pages: one per router and per settings object, with every option and its default.

The option tables are generated from the code by ``docs/_hooks/options.py`` when the site is
built; these tests check that every router and settings object has its table, that a table lists
exactly the signature's parameters with their defaults, and that an option without a docstring
fails instead of being shown without a description.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from typing import Any

import pytest

from fastapi_userkit import FastAPIUsers
from tests.docs.site import DOCS, options_hook

CONFIGURATION = DOCS / "configuration"
PAGES = sorted(str(path.relative_to(DOCS)) for path in CONFIGURATION.rglob("*.md"))
# FastAPIUsers.get_pages_router forwards **options: its page documents the function it calls.
ROUTER_PATHS = {"get_pages_router": "fastapi_userkit.pages.get_pages_router"}
# Settings objects whose names do not end with "Settings", and the parts of a backend.
OTHER_SETTINGS = [
    "fastapi_userkit.FastAPIUsers",
    "fastapi_userkit.mfa.MFA",
    "fastapi_userkit.security.PasswordPolicy",
    "fastapi_userkit.security.LoginThrottle",
    "fastapi_userkit.security.FlowLimits",
    "fastapi_userkit.security.Limit",
    "fastapi_userkit.mail.AccountMailer",
    "fastapi_userkit.authentication.AuthenticationBackend",
    "fastapi_userkit.authentication.BearerTransport",
    "fastapi_userkit.authentication.CookieTransport",
    "fastapi_userkit.authentication.JWTStrategy",
    "fastapi_userkit.authentication.DatabaseStrategy",
    "fastapi_userkit.authentication.RedisStrategy",
]
PUBLIC_PACKAGES = [
    "fastapi_userkit",
    "fastapi_userkit.authentication",
    "fastapi_userkit.email_auth",
    "fastapi_userkit.mail",
    "fastapi_userkit.mfa",
    "fastapi_userkit.pages",
    "fastapi_userkit.passkeys",
    "fastapi_userkit.router",
    "fastapi_userkit.security",
    "fastapi_userkit.sessions",
]
_CELL = re.compile(r"(?:`[^`]*`|\\\||[^|`])+")
COLUMNS = ("name", "type", "default", "text")


def cells(line: str) -> dict[str, str]:
    """The cells of a table row by column; a pipe inside a code span or escaped splits nothing."""
    found = [cell.strip() for cell in _CELL.findall(line.strip().strip("|"))]
    assert len(found) == len(COLUMNS), line
    row = dict(zip(COLUMNS, found, strict=True))
    row["name"] = row["name"].removesuffix(" (keyword)").strip("`")
    return row


def documented_paths() -> set[str]:
    """The dotted paths every options marker of the configuration pages names."""
    hook = options_hook()
    return {path for page in PAGES for path in hook.marked_paths((DOCS / page).read_text())}


def settings_classes() -> set[str]:
    """Every public class whose name ends with ``Settings``, by the path applications import it from."""
    found: dict[type, str] = {}
    for package_name in PUBLIC_PACKAGES:
        package = importlib.import_module(package_name)
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.isclass(obj) and name.endswith("Settings"):
                found.setdefault(obj, f"{package_name}.{name}")
    return set(found.values())


def test_every_router_of_fastapi_users_has_a_page() -> None:
    """Each ``FastAPIUsers.get_*_router`` method has a table of its options on a configuration page."""
    routers = {
        ROUTER_PATHS.get(name, f"fastapi_userkit.FastAPIUsers.{name}")
        for name, _ in inspect.getmembers(FastAPIUsers, inspect.isfunction)
        if name.startswith("get_") and name.endswith("_router")
    }

    assert len(routers) >= 13
    assert routers - documented_paths() == set()


def test_every_settings_object_has_a_page() -> None:
    """Each public ``...Settings`` class and each other settings object has a table of its options."""
    settings = settings_classes() | set(OTHER_SETTINGS)

    assert {"fastapi_userkit.security.RateLimitSettings", "fastapi_userkit.passkeys.PasskeySettings"} <= settings
    assert settings - documented_paths() == set()


def rows(path: str, sources: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """The rows of the table the hook makes for ``path``."""
    hook = options_hook()
    return [cells(line) for line in hook.table(hook.options(path, sources)).splitlines()[2:]]


def _markers() -> list[tuple[str, tuple[str, ...]]]:
    hook = options_hook()
    return [
        (match["path"], tuple(s.strip() for s in (match["sources"] or "").split(",") if s.strip()))
        for page in PAGES
        for match in hook.OPTIONS.finditer((DOCS / page).read_text())
    ]


@pytest.mark.parametrize(("path", "sources"), _markers())
def test_table_lists_the_signature(path: str, sources: tuple[str, ...]) -> None:
    """A table has one row per parameter, in the signature's order, with the signature's default.

    Defaults that are plain values (numbers, strings, booleans, ``None``, tuples of them) appear
    as their ``repr``; a parameter without one says ``required``.
    """
    hook = options_hook()
    obj = hook.resolve(path)
    parameters = [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]
    found = rows(path, sources) if parameters else []

    assert [m["name"].lstrip("*") for m in found] == [p.name for p in parameters]
    for match, parameter in zip(found, parameters, strict=True):
        default = parameter.default
        if default is inspect.Parameter.empty and parameter.kind is not inspect.Parameter.VAR_KEYWORD:
            assert match["default"] == "required", path
        elif isinstance(default, int | float | str | bool | tuple | type(None)):
            assert match["default"] == f"`{default!r}`", (path, parameter.name)
        assert match["text"].strip(), (path, parameter.name)
        assert "0x" not in match["default"], (path, parameter.name)  # no object address: the page is stable


def test_pages_use_the_generated_tables_only() -> None:
    """No configuration page writes an option table by hand (it would drift from the code)."""
    hand_written = [page for page in PAGES if "| option | type | default |" in (DOCS / page).read_text()]

    assert hand_written == []


def _undocumented(documented: int, missing: str = "") -> None:
    """A function whose ``missing`` parameter no docstring describes.

    Args:
        documented: Described here.
    """


@dataclasses.dataclass(frozen=True)
class _Settings:
    """Settings documented field by field."""

    size: int = 3
    """How big."""

    name: str = "x"
    """What it is called."""

    ids: tuple[int, ...] = dataclasses.field(default_factory=lambda: (1, 2))
    """Which ones."""


def test_an_undocumented_option_fails_the_build() -> None:
    """An option no docstring describes raises, naming it, so the strict build stops."""
    hook = options_hook()

    with pytest.raises(hook.OptionsError, match="'missing'"):
        hook.options(f"{__name__}._undocumented")
    with pytest.raises(hook.OptionsError, match="no object"):
        hook.options("fastapi_userkit.security.NoSuchSettings")
    with pytest.raises(hook.OptionsError, match=r"page\.md"):
        hook.expand(f"<!-- options: {__name__}._undocumented -->\n", "page.md")


def test_field_docstrings_and_factories() -> None:
    """A dataclass's fields are described by the docstring under each; a factory's value is its default."""
    found = {match["name"]: match for match in rows(f"{__name__}._Settings")}

    assert found["size"]["text"] == "How big."
    assert found["name"]["default"] == "`'x'`"
    assert found["ids"]["default"] == "`(1, 2)`"
    assert found["ids"]["type"] == "`tuple[int, ...]`"


def test_descriptions_are_read_from_the_source_of_a_method() -> None:
    """``from`` names the function whose ``Args:`` describe a method that forwards to it."""
    found = {
        m["name"]: m
        for m in rows("fastapi_userkit.FastAPIUsers.get_auth_router", ("fastapi_userkit.router.get_auth_router",))
    }

    assert set(found) == {"backend", "requires_verification"}
    assert found["requires_verification"]["default"] == "`False`"
    with pytest.raises(options_hook().OptionsError, match="'backend'"):
        options_hook().options("fastapi_userkit.FastAPIUsers.get_auth_router")


def test_markup_becomes_markdown() -> None:
    """Roles and double backticks become code; a pipe splits no cell outside code and is kept inside it."""
    hook = options_hook()

    assert (
        hook._markdown("See :class:`~fastapi_userkit.mfa.MFA` and ``a | b``, x | y") == "See `MFA` and `a | b`, x \\| y"
    )


def _default_of(value: Any) -> str:
    """The default cell the hook shows for a keyword parameter defaulting to ``value``."""
    hook = options_hook()

    def probe(option: Any = value) -> None:
        """A probe.

        Args:
            option: The option.
        """

    parameter = inspect.signature(probe).parameters["option"]
    return str(hook._default(probe, parameter))


def test_defaults_are_shown_without_addresses() -> None:
    """Objects and functions appear by their names, never as ``<... at 0x...>``."""

    class Opaque:
        pass

    assert _default_of(Opaque()) == "Opaque()"
    assert _default_of(len) == "len"
    assert _default_of([Opaque()]) == "[Opaque()]"
    assert _default_of(dataclasses.replace(_Settings())) == "_Settings()"
    assert _default_of(_Settings(size=4)) == "_Settings(size=4, name='x', ids=(1, 2))"
