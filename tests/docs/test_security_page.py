"""The security page's requirements table: every case T01-T49 is there, and every test it links to exists."""

from __future__ import annotations

import re

from tests.docs.site import DOCS, ROOT

PAGE = DOCS / "security.md"
SOURCE_URL = "https://example.invalid/fastapi-userkit/"
# A link to a test: [`test_name`](.../blob/main/tests/.../test_file.py)
_TEST_LINK = re.compile(rf"\[`(?P<name>test_\w+)`\]\({re.escape(SOURCE_URL)}blob/main/(?P<path>tests/[\w/]+\.py)\)")
_ANY_LINK = re.compile(rf"\]\({re.escape(SOURCE_URL)}(?P<kind>blob|tree)/main/(?P<path>[^)#\s]+)")
_CASE_ROW = re.compile(r"^\| (?P<case>T\d\d) \|(?P<rest>.*)$", re.MULTILINE)
_NOT_MET = re.compile(r"^- \*\*(?P<case>T\d\d)\*\*: ", re.MULTILINE)


def test_every_linked_test_exists() -> None:
    """Each ``test_...`` link names a test function defined in the file it points to."""
    text = PAGE.read_text()
    links = [(match["path"], match["name"]) for match in _TEST_LINK.finditer(text)]
    missing = [
        f"{path}::{name}"
        for path, name in links
        if not (ROOT / path).is_file()
        or not re.search(rf"^(?:async )?def {name}\(", (ROOT / path).read_text(), re.MULTILINE)
    ]

    assert len(links) >= 60
    assert missing == []


def test_every_repository_link_points_to_something() -> None:
    """Links into the repository name files (``blob``) or folders (``tree``) that exist."""
    broken = [
        match["path"]
        for match in _ANY_LINK.finditer(PAGE.read_text())
        if not ((ROOT / match["path"]).is_file() if match["kind"] == "blob" else (ROOT / match["path"]).is_dir())
    ]

    assert broken == []


def test_every_case_is_met_with_tests_or_listed_as_not_met() -> None:
    """T01-T49 each appear: as one row with at least one test link, or in the 'Not met yet' list."""
    text = PAGE.read_text()
    cases = [match["case"] for match in _CASE_ROW.finditer(text)]
    rows = {match["case"]: match["rest"] for match in _CASE_ROW.finditer(text)}
    not_met = {match["case"] for match in _NOT_MET.finditer(text)}
    untested = [case for case, rest in rows.items() if not _TEST_LINK.search(rest)]

    assert len(cases) == len(rows)  # no case twice
    assert set(rows) | not_met == {f"T{n:02d}" for n in range(1, 50)}
    assert untested == []
    assert set(rows) & not_met <= {"T06"}  # met in part: the shipped list, not the online check


def test_the_checker_catches_a_missing_test() -> None:
    """A link to a test that does not exist is found by the pattern the checks above use."""
    line = f"[`test_that_does_not_exist`]({SOURCE_URL}blob/main/tests/test_jwt.py)"
    match = _TEST_LINK.search(line)

    assert match is not None
    assert not re.search(rf"^def {match['name']}\(", (ROOT / match["path"]).read_text(), re.MULTILINE)
