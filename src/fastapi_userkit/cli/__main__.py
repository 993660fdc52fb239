"""``python -m fastapi_userkit.cli``: the ``userkit`` command."""

from fastapi_userkit.cli import main

main()
