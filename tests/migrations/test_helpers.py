"""The Alembic hooks and runner, unit by unit (no migration run)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, func
from sqlalchemy.dialects import mysql, postgresql, sqlite

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.migrations import include_object_for, render_item
from fastapi_userkit.migrations.types import GUID, EmailType, TIMESTAMPAware
from tests.migrations.conftest import Project


def _table() -> Table:
    return Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(10)))


@pytest.mark.parametrize("dialect_names", ["postgresql", ("postgresql", "sqlite")])
def test_include_object_honours_ddl_if_dialects(dialect_names: str | tuple[str, ...]) -> None:
    """An index restricted by ddl_if(dialect=...) is kept for that dialect and skipped for others."""
    # SQLAlchemy accepts a tuple at run time; its annotation says str only.
    index = Index("ix_t_name", _table().c.name).ddl_if(dialect=cast(Any, dialect_names))

    kept = include_object_for(postgresql.dialect())(index, index.name, "index", False, None)  # type: ignore[no-untyped-call]  # dialect classes are untyped
    skipped = include_object_for(mysql.dialect())(index, index.name, "index", False, None)

    assert (kept, skipped) == (True, False)


def test_include_object_chains_the_applications_filter() -> None:
    """The application's own include_object decides for everything the helper keeps."""
    table = _table()

    def not_t(_obj: Any, name: str | None, _type: str, _reflected: bool, _compare_to: Any) -> bool:
        return name != "t"

    app_filter = include_object_for(sqlite.dialect(), not_t)

    assert app_filter(table, "t", "table", False, None) is False
    assert app_filter(Index("ix", func.lower(table.c.name)), "ix", "index", False, None) is True


def test_render_item_renders_library_types_and_leaves_the_rest() -> None:
    """GUID, EmailType and TIMESTAMPAware render from the stable module; other items are Alembic's."""
    context = SimpleNamespace(imports=set())
    rendered = [render_item("type", type_, context) for type_ in (GUID(), EmailType(), TIMESTAMPAware())]

    assert rendered == [
        "fastapi_userkit.migrations.types.GUID()",
        "fastapi_userkit.migrations.types.EmailType()",
        "fastapi_userkit.migrations.types.TIMESTAMPAware()",
    ]
    assert context.imports == {"import fastapi_userkit.migrations.types"}
    assert render_item("type", Integer(), context) is False
    assert render_item("server_default", GUID(), context) is False


def _alembic_config(project: Project) -> Config:
    config = Config(str(project.root / "alembic.ini"))
    config.attributes.clear()
    return config


def test_plain_alembic_in_process_reads_the_app_from_the_ini(project: Project) -> None:
    """Without the CLI, run_migrations loads the app named by userkit_app in alembic.ini."""
    project.db("init", str(project.root / "migrations"))
    project.db("revision", "-m", "initial")

    command.upgrade(_alembic_config(project), "head")

    assert project.db("check").exit_code == 0


def test_ini_without_the_app_is_a_configuration_error(project: Project) -> None:
    """An alembic.ini without userkit_app, run by plain Alembic, fails with how to fix it."""
    project.db("init", str(project.root / "migrations"))
    ini = project.root / "alembic.ini"
    ini.write_text(ini.read_text().replace("userkit_app = tests.cli.cliapp:config", ""))

    with pytest.raises(ConfigurationError, match="userkit_app"):
        command.upgrade(_alembic_config(project), "head")


def test_userkit_db_without_any_app_says_how_to_name_it(project: Project) -> None:
    """userkit db with neither --app nor userkit_app in alembic.ini exits 1 naming the three ways."""
    project.db("init", str(project.root / "migrations"))
    ini = project.root / "alembic.ini"
    ini.write_text(ini.read_text().replace("userkit_app = tests.cli.cliapp:config", ""))

    result = project.runner.invoke(_cli_app(), ["db", "current", "--ini", str(ini)])

    assert result.exit_code == 1
    assert "--app, USERKIT_APP or 'userkit_app'" in result.stderr


def test_db_current_and_init_into_a_non_empty_folder(project: Project, tmp_path: Path) -> None:
    """db current prints the revision; db init refuses a folder that already has files."""
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    refused = project.userkit("db", "init", str(busy), "--ini", str(tmp_path / "other.ini"))
    project.db("init", str(project.root / "migrations"))
    project.db("revision", "-m", "initial")
    project.db("upgrade")

    current = project.db("current")

    assert refused.exit_code == 1
    assert "is not empty" in refused.stderr
    assert current.exit_code == 0, current.output
    assert "(head)" in current.stdout


def _cli_app() -> Any:
    from fastapi_userkit.cli.app import app

    return app
