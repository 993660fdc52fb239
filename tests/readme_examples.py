"""Extract the runnable examples of README.md (a ```python block after ``<!-- example: NAME -->``)."""

from __future__ import annotations

import re
import sys
import types
import uuid
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "README.md"
_EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\s*```python\n(?P<code>.*?)```", re.DOTALL)


def examples(path: Path = README) -> dict[str, str]:
    """The README's examples, by name."""
    return {match["name"]: match["code"] for match in _EXAMPLE.finditer(path.read_text())}


def run_examples(*names: str) -> dict[str, Any]:
    """Execute examples in order in one fresh module (later ones build on earlier ones); return its namespace.

    The module is registered in ``sys.modules`` because pydantic resolves generic schemas there.
    """
    found = examples()
    module = types.ModuleType(f"readme_example_{uuid.uuid4().hex}")
    sys.modules[module.__name__] = module
    for name in names:
        exec(compile(found[name], f"README.md:{name}", "exec"), module.__dict__)  # noqa: S102 - our own README
    return module.__dict__
