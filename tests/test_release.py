"""Release readiness (issue 24, item 5): the sdist and the wheel ``python -m build`` makes.

``python -m build`` builds the sdist first and the wheel from the unpacked sdist, so the wheel
tests below also prove that the sdist carries everything the wheel needs. The slow test installs
that wheel, with its dependencies, into a fresh virtual environment (no access to this checkout
or to the test environment's packages) and runs the README's quickstart over HTTP and
``userkit --help`` from it.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

import httpx
import pytest

import fastapi_userkit
from tests.readme_examples import examples

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "fastapi_userkit"
CHANGELOG = ROOT / "CHANGELOG.md"
VERSION = fastapi_userkit.__version__
# Keep a Changelog 1.1.0: the only kinds of change a release section lists.
CHANGE_KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
# Data files the package reads at run time (templates, styles, the password list), by folder.
DATA_FOLDERS = ["pages/templates", "pages/static", "mail/templates", "migrations/template"]
SDIST_TOP_LEVEL = {"src", "README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "PKG-INFO", ".gitignore"}
SERVER_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Dist:
    """The files of one ``python -m build`` run."""

    sdist: Path
    wheel: Path

    def wheel_names(self) -> set[str]:
        """The paths inside the wheel."""
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())

    def wheel_metadata(self) -> str:
        """The wheel's ``METADATA`` file."""
        with zipfile.ZipFile(self.wheel) as archive:
            name = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
            return archive.read(name).decode()

    def sdist_names(self) -> set[str]:
        """The paths inside the sdist, without its top folder (``fastapi_userkit-X.Y.Z/``)."""
        with tarfile.open(self.sdist) as archive:
            return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """``python -m build``: the sdist, then the wheel built from it (with this environment's hatchling)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", "--outdir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (sdist,) = out.glob("fastapi_userkit-*.tar.gz")
    (wheel,) = out.glob("fastapi_userkit-*.whl")
    return Dist(sdist, wheel)


def source_files() -> set[str]:
    """Every file of the package source, as paths inside the wheel (``fastapi_userkit/...``)."""
    return {
        path.relative_to(SOURCE.parent).as_posix()
        for path in SOURCE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_twine_accepts_both_archives(dist: Dist) -> None:
    """``twine check --strict`` passes: the metadata is complete and the README renders on an index."""
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-m", "twine", "check", "--strict", str(dist.sdist), str(dist.wheel)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_archives_are_named_by_the_package_version(dist: Dist) -> None:
    """Both file names and the wheel's metadata carry ``fastapi_userkit.__version__``, the one source."""
    metadata = HeaderParser().parsestr(dist.wheel_metadata())

    assert dist.sdist.name == f"fastapi_userkit-{VERSION}.tar.gz"
    assert dist.wheel.name == f"fastapi_userkit-{VERSION}-py3-none-any.whl"
    assert (metadata["Name"], metadata["Version"]) == ("fastapi-userkit", VERSION)
    assert metadata["License-Expression"] == "MIT"


def test_the_version_is_written_once() -> None:
    """pyproject.toml reads the version from the package; no other module spells it."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    spelled = [
        path.relative_to(ROOT).as_posix()
        for path in SOURCE.rglob("*.py")
        if re.search(rf"""["']{re.escape(VERSION)}["']""", path.read_text())
    ]

    assert 'dynamic = ["version"]' in pyproject
    assert not re.search(r"^version\s*=", pyproject, re.MULTILINE)
    assert 'path = "src/fastapi_userkit/__init__.py"' in pyproject
    assert spelled == ["src/fastapi_userkit/__init__.py"]


def test_wheel_holds_the_data_files_and_py_typed(dist: Dist) -> None:
    """Every module, template, static file, the password list and ``py.typed`` are in the wheel."""
    names = dist.wheel_names()
    data = {name for name in source_files() if any(name.startswith(f"fastapi_userkit/{f}/") for f in DATA_FOLDERS)}

    assert "fastapi_userkit/py.typed" in names
    assert "fastapi_userkit/security/common_passwords.txt.gz" in names
    assert any(name.endswith(".html") for name in data)
    assert any(name.endswith(".css") for name in data)
    assert data <= names
    assert source_files() <= names
    assert f"fastapi_userkit-{VERSION}.dist-info/licenses/LICENSE" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_wheel_declares_the_command_line(dist: Dist) -> None:
    """The ``userkit`` script points at the CLI's entry point."""
    with zipfile.ZipFile(dist.wheel) as archive:
        entry_points = archive.read(f"fastapi_userkit-{VERSION}.dist-info/entry_points.txt").decode()

    assert "userkit = fastapi_userkit.cli:main" in entry_points


def test_sdist_holds_the_source_and_the_project_files_only(dist: Dist) -> None:
    """The sdist has the package source, README, CHANGELOG, LICENSE and pyproject, and nothing else.

    (The wheel above was built from this sdist, so nothing the build needs is missing.)
    """
    names = dist.sdist_names()
    top_level = {name.split("/", 1)[0] for name in names}

    assert {f"src/{name}" for name in source_files()} <= names
    assert {"README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "PKG-INFO"} <= names
    assert top_level == SDIST_TOP_LEVEL


def changelog_sections() -> list[tuple[str, list[str]]]:
    """The CHANGELOG's release headings (``## ...``), each with its kinds of change (``### ...``)."""
    sections: list[tuple[str, list[str]]] = []
    for line in CHANGELOG.read_text().splitlines():
        if line.startswith("## "):
            sections.append((line.removeprefix("## "), []))
        elif line.startswith("### "):
            sections[-1][1].append(line.removeprefix("### "))
    return sections


def test_changelog_follows_keep_a_changelog() -> None:
    """Unreleased first, then the current version with its date; only Keep a Changelog's kinds of change.

    Every release heading has its comparison or tag link at the bottom.
    """
    text = CHANGELOG.read_text()
    sections = changelog_sections()
    headings = [heading for heading, _ in sections]
    releases = [re.fullmatch(r"\[(?P<version>[^\]]+)\] - (?P<date>\d{4}-\d{2}-\d{2})", h) for h in headings[1:]]

    assert headings[0] == "[Unreleased]"
    assert all(releases), headings
    assert [match["version"] for match in releases if match][:1] == [VERSION]
    assert all(kinds and set(kinds) <= CHANGE_KINDS for _, kinds in sections), sections
    for heading in headings:
        label = heading.split("]")[0] + "]"
        assert re.search(rf"^{re.escape(label)}: https://", text, re.MULTILINE), label


def test_the_site_includes_the_changelog_instead_of_a_copy() -> None:
    """docs/changelog.md is the CHANGELOG, included by the site's hook, so the two cannot differ."""
    page = (ROOT / "docs" / "changelog.md").read_text()

    assert page.strip() == "<!-- include: CHANGELOG.md -->"


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment of a fresh shell with ``venv`` activated: nothing of this checkout or of pytest."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key.startswith(("PIP_", "HOME", "LANG", "LC_", "SSL_", "REQUESTS_CA", "TMPDIR"))
    }
    return {**inherited, "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin", "VIRTUAL_ENV": str(venv)}


def _wait_for_startup(process: subprocess.Popen[str]) -> str:
    """Read the server's log until uvicorn says the app started; return the log so far.

    Raises:
        AssertionError: the server exits or does not start within ``SERVER_START_TIMEOUT`` seconds.
    """
    assert process.stderr is not None
    log = ""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while "Application startup complete" not in log:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the quickstart did not start:\n{log}"
            if selector.select(remaining):
                line = process.stderr.readline()
                assert line, f"the quickstart exited ({process.wait()}):\n{log}"
                log += line
    return log


@pytest.mark.slow
def test_installed_wheel_runs_the_quickstart_and_the_cli(dist: Dist, tmp_path: Path) -> None:
    """A fresh venv, ``pip install wheel[cli] uvicorn`` (dependencies from the index), then the README's way.

    The quickstart, saved as ``app.py`` and served by ``uvicorn app:app``, registers, logs in and
    answers ``/users/me`` over HTTP; ``userkit --help`` lists the commands.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)  # noqa: S603
    python = str(venv / "bin" / "python")
    env = _clean_env(venv)
    install = subprocess.run(  # noqa: S603 - the venv's own pip, our own wheel
        [python, "-m", "pip", "install", "--quiet", f"{dist.wheel}[cli]", "uvicorn"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    where = subprocess.run(  # noqa: S603 - the venv's interpreter
        [
            python,
            "-c",
            "import fastapi_userkit as p, importlib.metadata as m; print(p.__file__, m.version(p.__name__))",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    module_file, installed_version = where.stdout.split()
    assert module_file.startswith(str(venv)), module_file
    assert installed_version == VERSION

    cli = subprocess.run(  # noqa: S603 - the script pip installed
        [str(venv / "bin" / "userkit"), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert cli.returncode == 0, cli.stderr
    assert "create-user" in cli.stdout
    assert "migrate-from-fastapi-users" in cli.stdout

    (tmp_path / "app.py").write_text(examples()["quickstart"])
    socket_path = tmp_path / "app.sock"
    credentials = {"email": "king.arthur@camelot.bt", "password": "guinevere-and-the-grail"}
    with subprocess.Popen(  # noqa: S603 - the README's command, in the venv
        [python, "-m", "uvicorn", "app:app", "--uds", str(socket_path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            _wait_for_startup(server)
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path)), base_url="http://app") as client:
                registered = client.post("/auth/register", json=credentials)
                login = client.post(
                    "/auth/jwt/login", data={"username": credentials["email"], "password": credentials["password"]}
                )
                assert login.status_code == 200, login.text
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                me = client.get("/users/me", headers=headers)
                hello = client.get("/authenticated-route", headers=headers)
                anonymous = client.get("/users/me")
        finally:
            server.terminate()

    assert registered.status_code == 201, registered.text
    assert me.status_code == 200, me.text
    assert me.json()["email"] == credentials["email"]
    assert me.json()["id"] == registered.json()["id"]
    assert hello.json() == {"message": "Hello king.arthur@camelot.bt!"}
    assert anonymous.status_code == 401
    assert (tmp_path / "test.db").is_file()  # the quickstart's own SQLite file, in its directory
