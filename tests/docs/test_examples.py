"""Every code example of the documentation site is executed by a test (issue 24).

A page's own Python examples (``<!-- example: NAME -->`` above a python block) run here, in order,
in one fresh module per page; its ``<!-- run -->`` console blocks run here too. The README and
``docs_snippets`` sections a page includes by reference are run by the tests of their features:
a python block that is neither a page's own example nor one of those fails this module.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import types
import uuid
from pathlib import Path

import pytest

from tests.docs.site import ROOT, Block, expanded_blocks, own_blocks, pages
from tests.readme_examples import examples as readme_examples

TESTS = ROOT / "tests"
RUNNABLE = [
    (page, index)
    for page in pages()
    for index, block in enumerate(own_blocks(page))
    if block.marker == "run" and block.lang == "console"
]


def _test_sources() -> str:
    """The text of every test module outside tests/docs (where README examples are run)."""
    return "\n".join(
        path.read_text() for path in TESTS.rglob("*.py") if "docs" not in path.relative_to(TESTS).parts[:1]
    )


def _page_examples(page: str) -> list[Block]:
    """The page's own python examples that no feature test runs (this module runs those, in order).

    A section moved from the README keeps its examples, which build on the README's quickstart:
    the feature tests that name them run them with what they need.
    """
    sources = _test_sources()
    return [
        block
        for block in own_blocks(page)
        if block.example and block.lang == "python" and f'"{block.example}"' not in sources
    ]


def _snippets_run_by_tests() -> list[str]:
    """The ``docs_snippets`` files whose examples a feature test executes (it reads the file)."""
    sources = _test_sources()
    return [
        path.read_text()
        for path in sorted((ROOT / "docs_snippets").glob("*.md"))
        if f'"docs_snippets" / "{path.name}"' in sources or f"docs_snippets/{path.name}" in sources
    ]


def _is_run(block: Block, own: set[str], readme: dict[str, str], sources: str, snippets: list[str]) -> bool:
    """Whether a test executes ``block``: a page's own example, a tested README example or snippet code."""
    name = block.example
    if name is not None and name in own:
        return True
    if name is not None and readme.get(name) == block.code and f'"{name}"' in sources:
        return True
    return any(block.code in snippet for snippet in snippets)


PAGES_WITH_EXAMPLES = [page for page in pages() if _page_examples(page)]


@pytest.mark.parametrize("page", pages())
def test_every_python_block_is_run_by_a_test(page: str) -> None:
    """Each python block a page shows is its own example or a README/snippet example a test runs."""
    own = {block.example for block in own_blocks(page) if block.example}
    readme, sources, snippets = readme_examples(), _test_sources(), _snippets_run_by_tests()

    not_run = [
        block.code.splitlines()[0] if block.code else ""
        for block in expanded_blocks(page)
        if block.lang == "python" and not _is_run(block, own, readme, sources, snippets)
    ]

    assert not_run == [], f"{page}: python blocks no test executes (first lines): {not_run}"


def test_an_unmarked_block_is_caught() -> None:
    """The check above fails a block that is neither marked nor included from tested text."""
    block = Block("python", None, "print('never run')\n")

    assert not _is_run(block, set(), readme_examples(), _test_sources(), _snippets_run_by_tests())


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_page_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's own examples no feature test runs, in order, in one fresh module (each builds on the last).

    The examples check their own results with ``assert``; any exception fails the page.
    """
    monkeypatch.chdir(tmp_path)  # files an example writes land in the test's directory
    module = types.ModuleType(f"docs_example_{uuid.uuid4().hex}")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # pydantic resolves generics there
    for block in _page_examples(page):
        assert block.example is not None
        code = compile(block.code, f"docs/{page}:{block.example}", "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 - our own documentation


def test_pages_have_examples() -> None:
    """The parametrisation above is not empty: the site's own pages carry runnable examples."""
    assert len(PAGES_WITH_EXAMPLES) >= 3


@pytest.mark.parametrize(("page", "index"), RUNNABLE)
def test_runnable_console_blocks(page: str, index: int, tmp_path: Path) -> None:
    """Each ``$ command`` of a block marked ``<!-- run -->`` exits with 0 from the project's venv."""
    block = own_blocks(page)[index]
    commands = [line.removeprefix("$ ") for line in block.code.splitlines() if line.startswith("$ ")]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    for command in commands:
        result = subprocess.run(  # noqa: S603 - commands written in our own documentation
            shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, f"docs/{page}: {command!r} failed:\n{result.stdout}\n{result.stderr}"
    assert commands, f"docs/{page}: a block marked run has no $ command"


def test_site_has_runnable_commands() -> None:
    """The parametrisation above is not empty: the site shows commands the tests run."""
    assert RUNNABLE, "no console block marked <!-- run --> in docs/"
