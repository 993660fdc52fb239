"""The documentation site builds with ``mkdocs build --strict`` and documents every public name (issue 24)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.site import ROOT, includes

# Every public package: its __all__ is what the API reference must show.
PUBLIC_PACKAGES = [
    "fastapi_userkit",
    "fastapi_userkit.authentication",
    "fastapi_userkit.authentication.strategy",
    "fastapi_userkit.authentication.strategy.db",
    "fastapi_userkit.authentication.transport",
    "fastapi_userkit.cli",
    "fastapi_userkit.db",
    "fastapi_userkit.email_auth",
    "fastapi_userkit.mail",
    "fastapi_userkit.mfa",
    "fastapi_userkit.migrations",
    "fastapi_userkit.pages",
    "fastapi_userkit.passkeys",
    "fastapi_userkit.router",
    "fastapi_userkit.security",
    "fastapi_userkit.security.ratelimit",
    "fastapi_userkit.sessions",
    "fastapi_userkit.testing",
]


@dataclass(frozen=True)
class Build:
    """A strict build of the site: its exit status, its log and the directory of the HTML."""

    returncode: int
    log: str
    site: Path


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """``mkdocs build --strict`` into a temporary directory (once per module and worker)."""
    site = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    result = subprocess.run(  # noqa: S603 - the project's own mkdocs
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Build(result.returncode, result.stdout + result.stderr, site)


def test_strict_build_passes_without_warnings(build: Build) -> None:
    """Broken links, missing includes and unresolved references would fail the strict build."""
    assert build.returncode == 0, build.log
    assert "WARNING" not in build.log, build.log


def test_every_public_name_is_in_the_api_reference(build: Build) -> None:
    """Each name of each public package's ``__all__`` has an anchor in the API reference.

    A name is found under the package (``fastapi_userkit.mfa.MFA``) or, when a submodule of the same
    name hides it from the renderer, under the module that defines it.
    """
    html = "".join(path.read_text() for path in (build.site / "reference").rglob("*.html"))
    anchors = set(re.findall(r'id="([\w.]+)"', html))
    missing = []
    for package_name in PUBLIC_PACKAGES:
        package = importlib.import_module(package_name)
        for name in package.__all__:
            defined_in = getattr(getattr(package, name), "__module__", package_name)
            if not {f"{package_name}.{name}", f"{defined_in}.{name}"} & anchors:
                missing.append(f"{package_name}.{name}")

    assert missing == []


def test_public_packages_are_all_listed() -> None:
    """A new public subpackage with an ``__all__`` must be added to the reference (and to the list above)."""
    source = ROOT / "src"
    packages = {
        ".".join(init.parent.relative_to(source).parts)
        for init in source.rglob("__init__.py")
        if "__all__" in init.read_text() and not any(part.startswith("_") for part in init.parent.parts)
    }

    assert packages <= set(PUBLIC_PACKAGES)


def test_include_of_a_missing_heading_fails() -> None:
    """An include naming a heading that does not exist raises, so the strict build fails."""
    hook = includes()

    with pytest.raises(hook.IncludeError, match="no heading"):
        hook.expand("<!-- include: README.md#No such heading -->\n", "index.md")
    with pytest.raises(hook.IncludeError, match="no file"):
        hook.expand("<!-- include: no-such-file.md -->\n", "index.md")


def test_include_takes_one_section_and_relinks_it() -> None:
    """A section stops at the next heading of its level (not at a ``#`` comment in a code fence).

    Links into docs/ become relative to the page; links to other files point to the repository.
    """
    text = (
        "# Top\n## A\nsee [r](bench/RESULTS.md#x) and ![s](docs/screenshots/a.png)\n"
        "```python\n# not a heading\nf = FastAPIUsers[U, int](get_user_manager)\n```\n### A.1\nmore\n## B\nother\n"
    )
    hook = includes()
    section = hook.section(text, "A")

    assert section.startswith("## A\n")
    assert "### A.1\nmore" in section
    assert "## B" not in section
    assert hook.section(text, "B") == "## B\nother\n"

    relinked = hook.expand("<!-- include: README.md#Quickstart -->\n", "cookbook/x.md")
    assert relinked.startswith("## Quickstart")


def test_relink_rewrites_outside_code_only(tmp_path: Path) -> None:
    """Links are rewritten in prose, never inside code fences (where ``](`` is Python)."""
    hook = includes()
    page = "cookbook/page.md"
    markdown = hook.expand("<!-- include: docs_snippets/pages.md -->\n", page)

    assert 'src="../screenshots/' in markdown
    assert 'src="docs/screenshots/' not in markdown
    assert "](get_user_manager" in markdown  # FastAPIUsers[...](get_user_manager, ...) kept as written
    assert "main/get_user_manager" not in markdown


def test_relink_leaves_inline_code_alone() -> None:
    """Inline code in prose keeps its text; a link beside it is still rewritten, and anchors too."""
    hook = includes()
    text = (
        "## The `x` flag\nUse `FastAPIUsers[U, int](get_user_manager, [b])`, [chart](chart.py), "
        "[up](#the-x-flag) and [away](#elsewhere).\n"
    )
    markdown = hook.relink(text, "bench/RESULTS.md", "index.md")

    assert "`FastAPIUsers[U, int](get_user_manager, [b])`" in markdown
    assert "](https://example.invalid/fastapi-userkit/blob/main/bench/chart.py)" in markdown
    assert "[up](#the-x-flag)" in markdown
    assert "[away](https://example.invalid/fastapi-userkit/blob/main/bench/RESULTS.md#elsewhere)" in markdown


def test_github_anchors_are_spelled_as_the_site_does() -> None:
    """A link written with GitHub's anchor (runs of hyphens kept) reaches the heading on the site.

    On the page itself and on another page (here the changelog, which includes CHANGELOG.md);
    code is left alone, and an anchor the target does not know is left for the strict build.
    """
    hook = includes()
    page = (
        "## Before deploying: `userkit check --deploy`\n"
        "[a](#before-deploying-userkit-check---deploy) [b](changelog.md#010---2026-11-25) "
        "[c](#no-such-heading) `[d](#before-deploying-userkit-check---deploy)`\n"
    )
    markdown = hook.github_anchors(page, "index.md")

    assert "[a](#before-deploying-userkit-check-deploy)" in markdown
    assert "[b](changelog.md#010-2026-11-25)" in markdown
    assert "[c](#no-such-heading)" in markdown
    assert "`[d](#before-deploying-userkit-check---deploy)`" in markdown


def test_published_files_are_in_the_site_and_the_performance_page_shows_the_chart(build: Build) -> None:
    """The benchmark's committed charts are published at their path; the performance page shows one."""
    published = includes().published()
    page = (build.site / "performance" / "index.html").read_text()

    assert published, "no committed chart under bench/"
    assert all((build.site / path).is_file() for path in published)
    assert re.search(r'<img [^>]*src="\.\./bench/[\w.-]+\.png"', page), "the performance page shows no chart"


def test_links_to_published_files_work_on_github_and_on_the_site() -> None:
    """A page's ``../bench/x.png`` (right on GitHub) and an included ``x.png`` both reach the published file.

    Other links out of docs/ are left alone (the strict build reports them).
    """
    hook = includes()
    chart = sorted(hook.published())[0]
    name = chart.removeprefix("bench/")

    own = hook.published_links(f"![c](../{chart}) [x](../Makefile) `![c](../{chart})`\n", "performance.md")
    included = hook.relink(f"[c]({name})\n", "bench/RESULTS.md", "cookbook/page.md")

    assert own == f"![c]({chart}) [x](../Makefile) `![c](../{chart})`\n"
    assert included == f"[c](../{chart})\n"
