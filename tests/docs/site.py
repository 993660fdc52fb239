"""The documentation site's pages and their code blocks, as the tests of ``docs/`` read them.

The pages include README and ``docs_snippets`` sections by reference (``docs/_hooks/includes.py``,
the MkDocs hook); the tests expand them the same way before looking at the code blocks.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol, cast

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
HOOK = DOCS / "_hooks" / "includes.py"
OPTIONS_HOOK = DOCS / "_hooks" / "options.py"

# A fenced block, with the marker comment right above it if there is one.
_BLOCK = re.compile(
    r"(?:<!-- (?P<marker>example: [\w-]+|run) -->\s*)?^```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)^```$",
    re.DOTALL | re.MULTILINE,
)


class Includes(Protocol):
    """The hook module's functions (loaded from its file: ``docs/`` is not a package)."""

    IncludeError: type[LookupError]

    def expand(self, markdown: str, page: str) -> str:
        """The page's markdown with its includes replaced."""

    def section(self, text: str, heading: str) -> str:
        """The section of ``text`` under ``heading``."""

    def relink(self, text: str, source: str, page: str) -> str:
        """``text`` written at ``source`` with its links made right for ``page``."""

    def github_anchors(self, markdown: str, page: str) -> str:
        """The page's links to headings with GitHub's anchors spelled as the site spells them."""

    def published(self) -> set[str]:
        """The repository files the site publishes beside its pages."""

    def published_links(self, markdown: str, page: str) -> str:
        """The page's own links to published files, as the site needs them."""


def _load(path: Path, name: str) -> object:
    """A hook module loaded from its file; registered in ``sys.modules`` (dataclasses look it up there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = sys.modules.get(name) or importlib.util.module_from_spec(spec)
    if name not in sys.modules:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def includes() -> Includes:
    """The MkDocs hook module that expands includes, loaded from its file."""
    return cast(Includes, _load(HOOK, "userkit_docs_includes"))


def options_hook() -> ModuleType:
    """The MkDocs hook module that generates the configuration pages' option tables."""
    return cast(ModuleType, _load(OPTIONS_HOOK, "userkit_docs_options"))


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page: its language, its marker (``example: NAME``, ``run``) and code."""

    lang: str
    marker: str | None
    code: str

    @property
    def example(self) -> str | None:
        """The example's name, for a block marked ``<!-- example: NAME -->``."""
        if self.marker is None or not self.marker.startswith("example: "):
            return None
        return self.marker.removeprefix("example: ")


def pages() -> list[str]:
    """Every page of the site, relative to ``docs/``."""
    return sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md") if "_hooks" not in path.parts)


def blocks(markdown: str) -> list[Block]:
    """The fenced code blocks of ``markdown``, in order."""
    return [Block(match["lang"], match["marker"], match["code"]) for match in _BLOCK.finditer(markdown)]


def own_blocks(page: str) -> list[Block]:
    """The code blocks written in the page itself (its includes not expanded)."""
    return blocks((DOCS / page).read_text())


def expanded_blocks(page: str) -> list[Block]:
    """The code blocks of the page as the site shows it (its includes expanded)."""
    return blocks(includes().expand((DOCS / page).read_text(), page))
