"""Router factories, one module per flow.

The factories are imported on first use (PEP 562): importing
:mod:`fastapi_userkit.router.common` (the error table, which the authentication and security
layers use too) must not import every router, which import those layers (issue 17).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi_userkit.router.auth import get_auth_router
    from fastapi_userkit.router.common import ErrorCode
    from fastapi_userkit.router.oauth import get_oauth_associate_router, get_oauth_router
    from fastapi_userkit.router.register import get_register_router
    from fastapi_userkit.router.reset import get_reset_password_router
    from fastapi_userkit.router.security_events import get_security_events_router
    from fastapi_userkit.router.users import get_users_router
    from fastapi_userkit.router.verify import get_verify_router

_MODULE_OF = {
    "ErrorCode": "common",
    "get_auth_router": "auth",
    "get_oauth_associate_router": "oauth",
    "get_oauth_router": "oauth",
    "get_register_router": "register",
    "get_reset_password_router": "reset",
    "get_security_events_router": "security_events",
    "get_users_router": "users",
    "get_verify_router": "verify",
}

__all__ = [
    "ErrorCode",
    "get_auth_router",
    "get_oauth_associate_router",
    "get_oauth_router",
    "get_register_router",
    "get_reset_password_router",
    "get_security_events_router",
    "get_users_router",
    "get_verify_router",
]

# The OAuth routers need the optional ``oauth`` extra (httpx-oauth), as in FastAPI Users.
if importlib.util.find_spec("httpx_oauth") is None:  # pragma: no cover - the test environment installs every extra
    __all__ = [name for name in __all__ if "oauth" not in name]


def __getattr__(name: str) -> Any:
    """Import the router module that defines ``name`` on first use."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value
