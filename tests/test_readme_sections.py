"""The README carries each documented section verbatim (their examples are run by the feature tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = sorted(path.name for path in (ROOT / "docs_snippets").glob("*.md"))


@pytest.mark.parametrize("name", SECTIONS)
def test_readme_includes_section(name: str) -> None:
    """docs_snippets/<name> (whose examples a test executes) appears word for word in README.md."""
    section = (ROOT / "docs_snippets" / name).read_text().strip()

    assert section in (ROOT / "README.md").read_text()


def test_sections_exist() -> None:
    """The documented sections are all there."""
    assert {"oauth.md", "pages.md", "production.md", "refresh.md", "security.md"} <= set(SECTIONS)
