"""Copy the documented sections (docs_snippets/*.md, whose examples tests execute) into README.md.

Run after editing a section: ``python scripts/build_readme.py``. ``tests/test_readme_sections.py``
fails while README.md and a section differ.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("oauth", "refresh", "security", "production", "pages")


def build(readme: str) -> str:
    """Return ``readme`` with every section marker or section block replaced by its current text."""
    for name in SECTIONS:
        snippet = (ROOT / "docs_snippets" / f"{name}.md").read_text().strip()
        begin, end = f"<!-- begin section: {name} -->", f"<!-- end section: {name} -->"
        block = f"{begin}\n{snippet}\n{end}"
        marker = f"<!-- section: {name} -->"
        if marker in readme:
            readme = readme.replace(marker, block)
        elif begin in readme:
            head, rest = readme.split(begin, 1)
            readme = head + block + rest.split(end, 1)[1]
    return readme


if __name__ == "__main__":
    path = ROOT / "README.md"
    path.write_text(build(path.read_text()))
