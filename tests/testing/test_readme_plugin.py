"""The README's plugin example runs as an application's test suite, in a pytest of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.readme_examples import examples

INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def test_readme_plugin_example_passes(tmp_path: Path) -> None:
    """The quickstart and the README's conftest/tests, in one module, pass under pytest without a warning."""
    found = examples()
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "test_app.py").write_text(found["quickstart"] + "\n\n" + found["testing-plugin"])

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-p",
            "no:cov",
            "-W",
            "error::pytest.PytestAssertRewriteWarning",
            "test_app.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
