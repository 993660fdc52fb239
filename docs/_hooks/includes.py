"""MkDocs hook: a page includes a section of another file by reference, so no text is written twice.

A line ``<!-- include: PATH -->`` is replaced by the file at PATH (relative to the repository), and
``<!-- include: PATH#HEADING -->`` by the section of that file whose heading starts with HEADING,
down to the next heading of the same or a higher level (headings inside code fences do not
count). Links and images of the included text that point into ``docs/`` are made relative to the
page; links to other files of the repository point to the repository's source URL.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SOURCE_URL = "https://example.invalid/fastapi-userkit/blob/main/"
INCLUDE = re.compile(r"^<!-- include: (?P<path>[^#\s]+)(?:#(?P<heading>[^>]+?))? -->$", re.MULTILINE)
_ANCHOR = re.compile(r"\]\(#(?P<name>[\w-]+)\)")
_HEADING = re.compile(r"^(?P<hashes>#{1,6}) (?P<title>.+)$")
# Files of the repository outside docs/ that the site publishes at the same path (the benchmark's
# committed charts), so a page can show them; links to them are made relative to the page.
PUBLISHED = ("bench/*.png",)
_LINK = re.compile(r"(?P<open>\]\(|src=\")(?![a-z][a-z0-9+.-]*:)(?P<target>[^)\"#/\s][^)\"#\s]*)")


class IncludeError(LookupError):
    """An include names a file or a heading that does not exist (the strict build must fail)."""


def section(text: str, heading: str) -> str:
    """The section of markdown ``text`` whose heading starts with ``heading``.

    Raises:
        IncludeError: no heading outside a code fence starts with ``heading``.
    """
    lines = text.splitlines()
    in_fence = False
    start: int | None = None
    level = 0
    for index, line in enumerate(lines):
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            continue
        if start is None and match["title"].startswith(heading):
            start, level = index, len(match["hashes"])
        elif start is not None and len(match["hashes"]) <= level:
            return "\n".join(lines[start:index]).strip() + "\n"
    if start is None:
        raise IncludeError(f"no heading starting with {heading!r}")
    return "\n".join(lines[start:]).strip() + "\n"


def _github_slug(title: str) -> str:
    """The anchor GitHub gives a heading (what the README's own links use)."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _site_slug(title: str) -> str:
    """The anchor MkDocs' table of contents gives the same heading."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", title).strip().lower())


def _anchors(text: str) -> dict[str, str]:
    """GitHub's anchor -> the site's anchor, for the headings of ``text`` outside code fences."""
    prose = re.sub(r"^```.*?^```$", "", text, flags=re.MULTILINE | re.DOTALL)
    titles = [match["title"] for match in map(_HEADING.match, prose.splitlines()) if match]
    return {_github_slug(title): _site_slug(title) for title in titles}


def relink(text: str, source: str, page: str) -> str:
    """Rewrite the relative links of ``text`` (written at ``source``) for the page at ``page``.

    An in-page anchor to a heading of ``text`` takes the site's spelling; one to a heading left
    out points to the source file in the repository.
    """
    # docs_snippets/ holds README sections: their links are written relative to the README.
    source_dir = "" if source.startswith("docs_snippets/") else posixpath.dirname(source)
    anchors = _anchors(text)

    def anchor(match: re.Match[str]) -> str:
        name = match["name"]
        if name in anchors:
            return f"](#{anchors[name]})"
        return f"]({SOURCE_URL}{source}#{name})"

    page_dir = posixpath.dirname(posixpath.join("docs", page))

    def replace(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(source_dir, match["target"]))
        if target.startswith("docs/"):
            return match["open"] + posixpath.relpath(target, page_dir)
        if target in published():
            return match["open"] + posixpath.relpath(posixpath.join("docs", target), page_dir)
        return match["open"] + SOURCE_URL + target

    # Code fences and inline code are left as written: `](` is ordinary Python there.
    parts = re.split(r"(^```.*?^```$|`[^`\n]*`)", text, flags=re.MULTILINE | re.DOTALL)
    return "".join(part if part.startswith("`") else _ANCHOR.sub(anchor, _LINK.sub(replace, part)) for part in parts)


def expand(markdown: str, page: str) -> str:
    """``markdown`` of the page ``page`` (relative to ``docs/``) with every include replaced.

    Raises:
        IncludeError: an include names a missing file or heading.
    """

    def replace(match: re.Match[str]) -> str:
        path = ROOT / match["path"]
        if not path.is_file():
            raise IncludeError(f"{page}: no file {match['path']}")
        text = path.read_text()
        if match["heading"]:
            try:
                text = section(text, match["heading"])
            except IncludeError as exc:
                raise IncludeError(f"{page}: {match['path']}: {exc}") from exc
        return relink(text, match["path"], page)

    return INCLUDE.sub(replace, markdown)


_PAGE_ANCHOR = re.compile(r"\]\((?P<target>(?![a-z][a-z0-9+.-]*:)[^)#\s]*\.md)?#(?P<name>[\w-]+)\)")


def github_anchors(markdown: str, page: str) -> str:
    """Anchors written as GitHub spells them (``#before-deploying-userkit-check---deploy``) as the site does.

    A page's text is written to read well on GitHub too, so its links to headings, on the page or
    on another page of the site, use GitHub's anchors; the site's table of contents spells a few
    of them differently (it collapses runs of hyphens). Anchors the target does not know are left
    for the strict build to report.
    """
    page_dir = posixpath.dirname(posixpath.join("docs", page))
    known: dict[str, dict[str, str]] = {}

    def anchors_of(target: str) -> dict[str, str]:
        if target not in known:
            path = ROOT / target
            text = expand(path.read_text(), posixpath.relpath(target, "docs")) if path.is_file() else ""
            known[target] = _anchors(text)
        return known[target]

    own = _anchors(markdown)

    def replace(match: re.Match[str]) -> str:
        target, name = match["target"] or "", match["name"]
        found = anchors_of(posixpath.normpath(posixpath.join(page_dir, target))) if target else own
        return f"]({target}#{found.get(name, name)})"

    parts = re.split(r"(^```.*?^```$|`[^`\n]*`)", markdown, flags=re.MULTILINE | re.DOTALL)
    return "".join(part if part.startswith("`") else _PAGE_ANCHOR.sub(replace, part) for part in parts)


def published() -> set[str]:
    """The repository paths of the files the site publishes beside its pages (:data:`PUBLISHED`)."""
    return {path.relative_to(ROOT).as_posix() for pattern in PUBLISHED for path in ROOT.glob(pattern)}


def published_links(markdown: str, page: str) -> str:
    """A page's own links to a published file, written for GitHub (``../bench/x.png``), as the site needs them.

    On GitHub a page links out of ``docs/`` to the file; on the site the file sits at the same path
    below the site's root.
    """
    page_dir = posixpath.dirname(posixpath.join("docs", page))
    files = published()

    def replace(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(page_dir, match["target"]))
        if target not in files:
            return match[0]
        return match["open"] + posixpath.relpath(posixpath.join("docs", target), page_dir)

    parts = re.split(r"(^```.*?^```$|`[^`\n]*`)", markdown, flags=re.MULTILINE | re.DOTALL)
    return "".join(part if part.startswith("`") else _OUTWARD.sub(replace, part) for part in parts)


_OUTWARD = re.compile(r"(?P<open>\]\(|src=\")(?P<target>\.\./[^)\"#\s]+)")


def on_files(files: Any, config: Any, **_kwargs: Any) -> Any:
    """MkDocs' files event: add the published files of the repository to the site."""
    from mkdocs.structure.files import File

    for path in sorted(published()):
        files.append(File(path, src_dir=str(ROOT), dest_dir=config["site_dir"], use_directory_urls=False))
    return files


def on_page_markdown(markdown: str, page: Any, **_kwargs: Any) -> str:
    """MkDocs' page event: expand the page's includes, then spell its anchors and links as the site does."""
    page_uri = page.file.src_uri
    return github_anchors(published_links(expand(markdown, page_uri), page_uri), page_uri)
