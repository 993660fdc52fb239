"""Router factories, one module per flow."""

from fastapi_userkit.router.auth import get_auth_router
from fastapi_userkit.router.common import ErrorCode
from fastapi_userkit.router.register import get_register_router
from fastapi_userkit.router.reset import get_reset_password_router
from fastapi_userkit.router.security_events import get_security_events_router
from fastapi_userkit.router.users import get_users_router
from fastapi_userkit.router.verify import get_verify_router

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

try:  # the OAuth routers need the optional ``oauth`` extra (httpx-oauth), as in FastAPI Users
    from fastapi_userkit.router.oauth import get_oauth_associate_router, get_oauth_router
except ImportError:  # pragma: no cover - the test environment installs every extra
    __all__ = [name for name in __all__ if "oauth" not in name]
