"""Where a page may send the browser next: same-origin relative paths only.

An open redirect turns a trusted link into a phishing vector (OWASP ASVS 5.0 3.7.2; CWE-601).
The ``next`` parameter is therefore accepted only when it is a path on this site, in the form
browsers resolve against the current origin. Everything else falls back to a default:

* absolute URLs (``https://evil.com``) and scheme-relative ones (``//evil.com``);
* ``/\\evil.com``: browsers treat a backslash like a slash (WHATWG URL standard, "special
  schemes"), so it is scheme-relative too;
* any other scheme (``javascript:``, ``data:``), which has no leading slash;
* control characters and whitespace: browsers strip tabs and newlines from URLs, so
  ``/\\t/evil.com`` would become ``//evil.com``.
"""

from __future__ import annotations

__all__ = ["MAX_NEXT_LENGTH", "safe_next"]

MAX_NEXT_LENGTH = 2048
"""Longer values are refused: no legitimate in-site path is that long."""


def safe_next(value: object, default: str) -> str:
    """Return ``value`` if it is a same-origin relative path, else ``default``."""
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT_LENGTH:
        return default
    if not value.startswith("/") or value.startswith("//"):
        return default
    # A single leading slash, no backslash and no whitespace: no scheme and no host can follow.
    if "\\" in value or any(char.isspace() or not char.isprintable() for char in value):
        return default
    return value
