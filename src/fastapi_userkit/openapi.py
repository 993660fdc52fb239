"""OpenAPI helper types."""

from __future__ import annotations

from typing import Any, TypeAlias

OpenAPIResponseType: TypeAlias = dict[int | str, dict[str, Any]]

__all__ = ["OpenAPIResponseType"]
