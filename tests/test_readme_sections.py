"""The documented sections (``docs_snippets/``, whose examples the feature tests run) are on the site once.

They used to be copied into the README; the README now links to the site, whose pages include
each section by reference, so the text is written in one place only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = sorted(path.name for path in (ROOT / "docs_snippets").glob("*.md"))


def _includes(name: str) -> list[str]:
    """The pages of the site that include ``docs_snippets/<name>``."""
    marker = f"<!-- include: docs_snippets/{name} -->"
    return [str(page.relative_to(ROOT)) for page in sorted((ROOT / "docs").rglob("*.md")) if marker in page.read_text()]


@pytest.mark.parametrize("name", SECTIONS)
def test_each_section_is_included_by_one_page(name: str) -> None:
    """docs_snippets/<name> is included by exactly one page, and not copied into the README."""
    section = (ROOT / "docs_snippets" / name).read_text().strip()

    assert len(_includes(name)) == 1, _includes(name)
    assert section not in (ROOT / "README.md").read_text()


def test_sections_exist() -> None:
    """The documented sections are all there."""
    assert {"oauth.md", "pages.md", "production.md", "refresh.md", "security.md"} <= set(SECTIONS)
