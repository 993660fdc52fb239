"""The account skeleton merges everything MariaDB's e-mail collation merges (issue 16, item 2).

Asks the live server for the weight of every code point under the collation ``EmailType``
declares, as an outside review did: a code point it ignores must vanish from the skeleton, and
one it weighs as an ASCII character must become that character.
"""

from __future__ import annotations

import pytest

from fastapi_userkit._email_forms import account_skeleton
from scripts.collation_table import ascii_equivalents, weights_on
from tests.conftest import EngineFactory

pytestmark = [pytest.mark.slow, pytest.mark.services]


async def test_skeleton_agrees_with_mariadb_for_every_code_point(engine_for: EngineFactory) -> None:
    """No code point that the live MariaDB ignores or weighs as ASCII keeps another form in the skeleton."""
    engine = await engine_for("mariadb")
    async with engine.connect() as connection:
        weight = await weights_on(connection)
    ignorable, equal = ascii_equivalents(weight)

    kept = [hex(cp) for cp in ignorable if account_skeleton(f"a{chr(cp)}b") != "ab"]
    unequal = [(hex(cp), char) for char, points in equal.items() for cp in points if account_skeleton(chr(cp)) != char]

    assert len(weight) > 300_000
    # The query measured something: U+0640 is ignored, U+0661 weighs as "1".
    assert 0x640 in ignorable
    assert 0x661 in equal["1"]
    assert kept == []
    assert unequal == []
