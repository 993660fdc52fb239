"""The codemod's rewrite of each construct (``userkit migrate-from-fastapi-users``, issue 21 item 1)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from fastapi_userkit.cli._codemod import rewrite_source
from fastapi_userkit.cli._codemod_rules import has_name, map_dotted, module_exists


def _rewrite(source: str) -> str:
    return rewrite_source(textwrap.dedent(source)).code


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("import fastapi_users\n", "import fastapi_userkit\n"),
        ("import fastapi_users.authentication as auth\n", "import fastapi_userkit.authentication as auth\n"),
        ("import fastapi_users_db_sqlalchemy as fdb\n", "import fastapi_userkit.db as fdb\n"),
        ("import os, fastapi_users.jwt\n", "import os, fastapi_userkit.jwt\n"),
        ("from fastapi_users import FastAPIUsers\n", "from fastapi_userkit import FastAPIUsers\n"),
        (
            "from fastapi_users.authentication import (\n    JWTStrategy,  # why\n    BearerTransport as BT,\n)\n",
            "from fastapi_userkit.authentication import (\n    JWTStrategy,  # why\n    BearerTransport as BT,\n)\n",
        ),
        (
            "from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase\n",
            "from fastapi_userkit.db import SQLAlchemyUserDatabase\n",
        ),
        (
            "from fastapi_users_db_sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase\n",
            "from fastapi_userkit.db.access_token import SQLAlchemyAccessTokenDatabase\n",
        ),
        ("from fastapi_users_db_sqlalchemy.generics import GUID\n", "from fastapi_userkit.db import GUID\n"),
        ("from fastapi_users_db_sqlalchemy import generics\n", "from fastapi_userkit import db as generics\n"),
        (
            "from fastapi_users.authentication.strategy.db.adapter import AccessTokenDatabase\n",
            "from fastapi_userkit.authentication.strategy.db.models import AccessTokenDatabase\n",
        ),
        (
            "from fastapi_users.authentication.strategy.db import adapter as a\n",
            "from fastapi_userkit.authentication.strategy.db import models as a\n",
        ),
        ("from fastapi_users.db import *\n", "from fastapi_userkit.db import *\n"),
        ("from fastapi_users.router import common\n", "from fastapi_userkit.router import common\n"),
    ],
)
def test_import_statements_follow_the_table(before: str, after: str) -> None:
    """Each import form is rewritten by the README's table, keeping aliases, lists and comments."""
    assert _rewrite(before) == after


@pytest.mark.parametrize(
    "source",
    [
        "from . import fastapi_users\n",
        "from .fastapi_users import FastAPIUsers\n",
        "from ..fastapi_users_db_sqlalchemy import x\n",
        "import fastapi_users_extra\n",
        "import my.fastapi_users\n",
        "from fastapi_usersx import y\n",
        '"""Docs about fastapi_users and fastapi_users_db_sqlalchemy."""\n',
        "import os as fastapi_users\npath = fastapi_users.path\n",
        'message = f"fastapi_users is {state}"\n',
        'plugins = []\nplugins += ["json"]  # fastapi_users\n',
    ],
)
def test_other_modules_stay(source: str) -> None:
    """Relative imports, look-alike packages, another module named fastapi_users and prose are left alone."""
    result = rewrite_source(source)

    assert (result.code, result.imports, result.notes) == (source, 0, [])


def test_plain_module_import_renames_its_uses() -> None:
    """``import fastapi_users`` renames the attribute uses of the module, not a same-named parameter."""
    source = """\
        import fastapi_users
        import fastapi_users.authentication
        import fastapi_users_db_sqlalchemy

        users = fastapi_users.FastAPIUsers(get_manager, [])
        backend = fastapi_users.authentication.AuthenticationBackend
        guid = fastapi_users_db_sqlalchemy.generics.GUID
        db = fastapi_users_db_sqlalchemy.SQLAlchemyUserDatabase

        def wire(fastapi_users):
            return fastapi_users.current_user()
    """
    expected = """\
        import fastapi_userkit
        import fastapi_userkit.authentication
        import fastapi_userkit.db

        users = fastapi_userkit.FastAPIUsers(get_manager, [])
        backend = fastapi_userkit.authentication.AuthenticationBackend
        guid = fastapi_userkit.db.GUID
        db = fastapi_userkit.db.SQLAlchemyUserDatabase

        def wire(fastapi_users):
            return fastapi_users.current_user()
    """

    assert _rewrite(source) == textwrap.dedent(expected)


def test_aliased_module_keeps_its_uses() -> None:
    """With ``import ... as name``, the uses of ``name`` need no change."""
    source = "import fastapi_users as fu\nusers = fu.FastAPIUsers\n"

    assert _rewrite(source) == "import fastapi_userkit as fu\nusers = fu.FastAPIUsers\n"


def test_module_name_shadowed_by_a_variable_is_reported() -> None:
    """The module's name reassigned: the use before it is renamed, the later ambiguous uses are reported."""
    source = """\
        import fastapi_users
        fastapi_users = fastapi_users.FastAPIUsers(get_manager, [])
        def wire():
            return fastapi_users.current_user()
        current_user = fastapi_users.current_user()
    """

    result = rewrite_source(textwrap.dedent(source))

    assert result.code == textwrap.dedent(source).replace("import fastapi_users", "import fastapi_userkit").replace(
        "= fastapi_users.FastAPIUsers", "= fastapi_userkit.FastAPIUsers"
    )
    assert result.notes == [
        (line, "'fastapi_users' is both the imported module and another variable here: rename by hand")
        for line in (4, 5)
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            'pytest_plugins = ["fastapi_users.plugin", "other"]\n',
            'pytest_plugins = ["fastapi_userkit.plugin", "other"]\n',
        ),
        ("pytest_plugins = ('fastapi_users.a',)\n", "pytest_plugins = ('fastapi_userkit.a',)\n"),
        ('pytest_plugins = "fastapi_users_db_sqlalchemy.x"\n', 'pytest_plugins = "fastapi_userkit.db.x"\n'),
        ('pytest_plugins += ["fastapi_users.b"]\n', 'pytest_plugins += ["fastapi_userkit.b"]\n'),
        (
            '@mock.patch("fastapi_users.manager.BaseUserManager.on_after_login")\ndef t(): ...\n',
            '@mock.patch("fastapi_userkit.manager.BaseUserManager.on_after_login")\ndef t(): ...\n',
        ),
        ('patch(target="fastapi_users.jwt.decode_jwt")\n', 'patch(target="fastapi_userkit.jwt.decode_jwt")\n'),
        (
            'mocker.patch("fastapi_users.password.PasswordHelper")\n',
            'mocker.patch("fastapi_userkit.password.PasswordHelper")\n',
        ),
        ('mock.patch.dict("fastapi_users.x.TABLE", {})\n', 'mock.patch.dict("fastapi_userkit.x.TABLE", {})\n'),
        ('patch.multiple("fastapi_users.jwt", a=1)\n', 'patch.multiple("fastapi_userkit.jwt", a=1)\n'),
        (
            'monkeypatch.setattr("fastapi_users.password.PasswordHelper.hash", f)\n',
            'monkeypatch.setattr("fastapi_userkit.password.PasswordHelper.hash", f)\n',
        ),
        (
            "monkeypatch.delattr('fastapi_users_db_sqlalchemy.generics.GUID')\n",
            "monkeypatch.delattr('fastapi_userkit.db.GUID')\n",
        ),
        ('ep = "fastapi_users.router:get_auth_router"\npytest_plugins = [ep]\n', None),
    ],
)
def test_string_references(before: str, after: str | None) -> None:
    """Module paths in ``pytest_plugins`` and in patch targets are rewritten in place; others are left."""
    result = rewrite_source(before)

    assert result.code == (after or before)
    assert result.strings == (0 if after is None else 1)


def test_patch_with_a_keyword_first_is_left() -> None:
    """A patcher whose first argument is another keyword keeps its strings (and reports them)."""
    source = 'patch(new="fastapi_users.jwt")\n'

    result = rewrite_source(source)

    assert result.code == source
    assert result.notes == [(1, "string 'fastapi_users.jwt' names a FastAPI Users module: not rewritten")]


def test_what_cannot_be_rewritten_is_reported_with_its_line() -> None:
    """Dynamic imports and names built at run time are reported, not guessed at."""
    source = """\
        import importlib
        importlib.import_module("fastapi_users.router")
        __import__(name)
        importlib.import_module("json")
        importlib.import_module(f"fastapi_users.{name}")
        logger = "fastapi_users"
        raw = "fastapi_users\\x2ejwt"
        no_args = importlib.import_module()
    """

    result = rewrite_source(textwrap.dedent(source))

    assert result.code == textwrap.dedent(source)
    assert result.notes == [
        (
            2,
            (
                "dynamic import importlib.import_module('fastapi_users.router'):"
                " change it by hand to 'fastapi_userkit.router'"
            ),
        ),
        (3, "dynamic import __import__(...) of a name computed at run time: check it by hand"),
        (5, "a FastAPI Users module name built at run time (f-string): not rewritten"),
        (5, "dynamic import importlib.import_module(...) of a name computed at run time: check it by hand"),
        (6, "string 'fastapi_users' names a FastAPI Users module: not rewritten"),
    ]


def test_module_without_counterpart_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A FastAPI Users module fastapi-userkit lacks is left as it is, its uses too, and reported."""
    source = "import fastapi_users.nowhere\nfrom fastapi_users.nowhere import thing\nx = fastapi_users.nowhere.y\n"

    result = rewrite_source(source)

    assert result.code == source
    assert result.notes == [
        (1, "fastapi-userkit has no module for fastapi_users.nowhere: not rewritten"),
        (2, "fastapi-userkit has no module for fastapi_users.nowhere: not rewritten"),
    ]


def test_missing_name_is_rewritten_and_reported() -> None:
    """An imported name fastapi-userkit's module lacks is rewritten (the module exists) and reported."""
    result = rewrite_source("from fastapi_users.jwt import not_here\n")

    assert result.code == "from fastapi_userkit.jwt import not_here\n"
    assert result.notes == [(1, "fastapi-userkit's fastapi_userkit.jwt has no 'not_here': check this import")]


def test_names_split_across_modules_are_reported() -> None:
    """A from-import list whose names now live in two modules is left for a human to split."""
    source = "from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase, generics\n"

    result = rewrite_source(source)

    assert result.code == source
    assert result.notes == [
        (1, "names from fastapi_users_db_sqlalchemy now live in fastapi_userkit and fastapi_userkit.db: split by hand")
    ]


def test_counts() -> None:
    """Import statements and string references are counted separately."""
    result = rewrite_source(
        'import fastapi_users\nfrom fastapi_users import jwt\npytest_plugins = ["fastapi_users.a"]\n'
    )

    assert (result.imports, result.strings) == (2, 1)


@pytest.mark.parametrize(
    ("name", "mapped"),
    [
        ("fastapi_users", "fastapi_userkit"),
        ("fastapi_users.fastapi_users", "fastapi_userkit.fastapi_users"),
        ("fastapi_users_db_sqlalchemy", "fastapi_userkit.db"),
        ("fastapi_users_db_sqlalchemy.access_token", "fastapi_userkit.db.access_token"),
        ("fastapi_users_db_sqlalchemy.generics", "fastapi_userkit.db"),
        ("fastapi_users_extra", None),
        ("os.path", None),
    ],
)
def test_map_dotted(name: str, mapped: str | None) -> None:
    """The table maps whole components, and every mapped module of the table exists."""
    assert map_dotted(name) == mapped
    assert mapped is None or module_exists(mapped)


def test_name_of_a_module_that_cannot_be_imported_here_is_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A module whose optional extra is missing where the codemod runs is rewritten without a verdict on names."""
    # The module is found, but importing it fails as it would without httpx-oauth installed.
    monkeypatch.delitem(sys.modules, "fastapi_userkit.router.oauth", raising=False)
    monkeypatch.delitem(sys.modules, "fastapi_userkit.router._oauth_flow", raising=False)
    monkeypatch.setitem(sys.modules, "httpx_oauth.oauth2", None)
    has_name.cache_clear()
    try:
        result = rewrite_source("from fastapi_users.router.oauth import get_oauth_router\n")
    finally:
        has_name.cache_clear()

    assert (result.code, result.notes) == ("from fastapi_userkit.router.oauth import get_oauth_router\n", [])


def test_plain_import_of_a_renamed_module() -> None:
    """``import`` of a module that changed its last name renames the import and the dotted uses."""
    source = """\
        import fastapi_users_db_sqlalchemy.generics
        import fastapi_users.authentication.strategy.db.adapter
        guid = fastapi_users_db_sqlalchemy.generics.GUID
        protocol = fastapi_users.authentication.strategy.db.adapter.AccessTokenDatabase
    """
    expected = """\
        import fastapi_userkit.db
        import fastapi_userkit.authentication.strategy.db.models
        guid = fastapi_userkit.db.GUID
        protocol = fastapi_userkit.authentication.strategy.db.models.AccessTokenDatabase
    """

    assert _rewrite(source) == textwrap.dedent(expected)


def test_module_exists_for_a_child_of_a_plain_module() -> None:
    """A dotted name under a module that is not a package does not exist (and does not raise)."""
    assert not module_exists("fastapi_userkit.jwt.sub")
