"""The demo app: every router at the prefixes of FastAPI Users' documentation.

Run it with ``make demo`` (SQLite file ``demo.db``), or set ``DATABASE_URL`` to a
``postgresql+asyncpg://`` or ``mysql+asyncmy://`` URL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse

from demo.db import User, create_db_and_tables
from demo.schemas import UserCreate, UserRead, UserUpdate
from demo.users import (
    PASSKEY_ORIGIN,
    SECRET,
    auth_backend,
    cookie_backend,
    current_active_user,
    fastapi_users,
    get_email_change,
    get_email_sign_in,
    get_passkey_service,
)

logger = logging.getLogger("uvicorn.error")


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    await create_db_and_tables()
    # Passkeys need a domain, not an IP address: open the localhost address to use them.
    logger.info("Account pages: %s/account/ (passkeys work on this address, not on 127.0.0.1)", PASSKEY_ORIGIN)
    yield


app = FastAPI(title="fastapi-userkit demo", lifespan=lifespan)

app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
# The pages' cookie backend: its refresh route is where the refresh cookie is scoped.
app.include_router(fastapi_users.get_auth_router(cookie_backend), prefix="/auth/cookie", tags=["auth"])
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_reset_password_router(), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_verify_router(UserRead), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_mfa_router(), prefix="/users", tags=["users"])
app.include_router(
    fastapi_users.get_passkeys_router(auth_backend, get_passkey_service, signup_schema=UserCreate),
    prefix="/auth/jwt",
    tags=["passkeys"],
)
app.include_router(
    fastapi_users.get_email_login_router(auth_backend, get_email_sign_in), prefix="/auth/jwt", tags=["auth"]
)
app.include_router(fastapi_users.get_email_change_router(UserRead, get_email_change), prefix="/users", tags=["users"])
app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"])
# The account pages: sign up, verify, sign in, account... at http://localhost:8000/account/,
# with passkeys (they need the localhost address: an IP address cannot be a WebAuthn RP id).
app.include_router(
    fastapi_users.get_pages_router(
        cookie_backend,
        secret=SECRET,
        user_create_schema=UserCreate,
        app_name="fastapi-userkit demo",
        email_sign_in=get_email_sign_in,
        email_change=get_email_change,
        get_passkey_service=get_passkey_service,
    ),
    prefix="/account",
)


@app.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/account/")


@app.get("/authenticated-route")
async def authenticated_route(user: User = Depends(current_active_user)) -> dict[str, str]:
    return {"message": f"Hello {user.email}!"}
