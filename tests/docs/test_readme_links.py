"""The README's links work where it is read most, on GitHub: each file exists and each anchor is a heading.

GitHub shows a page of ``docs/`` as written (the site's includes are not expanded there), so an
anchor into a page must name a heading written in that page itself. The site's strict build
checks the same links once the pages include the README.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.site import ROOT

README = ROOT / "README.md"
_LINK = re.compile(r"\]\((?P<target>(?![a-z][a-z0-9+.-]*:)[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (?P<title>.+)$", re.MULTILINE)


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of ``text`` (outside code fences)."""
    prose = re.sub(r"^```.*?^```$", "", text, flags=re.MULTILINE | re.DOTALL)
    return {re.sub(r"[^\w\- ]", "", m["title"].lower()).replace(" ", "-") for m in _HEADING.finditer(prose)}


def links(text: str) -> list[str]:
    """The relative link targets of ``text``'s prose (code fences and inline code are not links)."""
    prose = re.sub(r"^```.*?^```$|`[^`\n]*`", "", text, flags=re.MULTILINE | re.DOTALL)
    return [match["target"] for match in _LINK.finditer(prose)]


def broken(path: Path) -> list[str]:
    """The links of the markdown file at ``path`` whose file or heading does not exist."""
    found = []
    for target in links(path.read_text()):
        file, _, anchor = target.partition("#")
        destination = (path.parent / file).resolve() if file else path
        missing_heading = anchor and (
            not destination.is_file() or anchor not in github_anchors(destination.read_text())
        )
        if not destination.exists() or missing_heading:
            found.append(target)
    return found


def test_readme_links_resolve() -> None:
    """Every relative link of the README names an existing file, and an anchor a heading of it."""
    assert links(README.read_text())
    assert broken(README) == []


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    """A missing file and a missing heading are reported; a link inside code is no link."""
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n## The `x` flag\n")
    page.write_text(
        "# Page\n[a](other.md#the-x-flag) [b](other.md#nope) [c](missing.md) [d](#page) [e](#gone)\n"
        "`[f](missing.md)`\n```python\nx = [g](missing.md)\n```\n"
    )

    assert broken(page) == ["other.md#nope", "missing.md", "#gone"]
