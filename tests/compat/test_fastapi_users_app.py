"""The migration promise: FastAPI Users' documented app runs unchanged on fastapi-userkit."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.compat import fastapi_users_app as docs_app
from tests.conftest import EngineFactory, reset_schema
from tests.models import Base as ModelsBase

# The documentation's SECRET = "SECRET" is 6 bytes, below RFC 7518 section 3.2's 32-byte minimum
# for HS256. PyJWT (>= 2.10, required by FastAPI Users 15 too) warns on each use; the app works.
# Pytest turns warnings into errors, so these tests let that one through and check it separately.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

RATE_LIMIT_TABLE = "userkit_rate_limit"
PASSWORD = "a long passphrase nobody guesses 0451"


@pytest.fixture
async def client(http_backend: str, engine_for: EngineFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the documented app, its session dependency pointed at a fresh test database.

    ``dependency_overrides`` is FastAPI's own way to swap a dependency; the app module itself
    keeps the documentation's hard-coded ``sqlite+aiosqlite:///./test.db``.
    """
    engine = await engine_for(http_backend)
    async with engine.begin() as connection:
        # The run's PostgreSQL database is shared: the tests' tables reference "user" by foreign key.
        await connection.run_sync(ModelsBase.metadata.drop_all)
        if RATE_LIMIT_TABLE in await connection.run_sync(lambda sync: inspect(sync).get_table_names()):
            await connection.execute(text(f"DELETE FROM {RATE_LIMIT_TABLE}"))  # noqa: S608 - a constant name
    await reset_schema(engine, docs_app.Base.metadata)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)

    async def test_session() -> AsyncGenerator[AsyncSession, None]:
        async with session_maker() as session:
            yield session

    docs_app.app.dependency_overrides[docs_app.get_async_session] = test_session
    try:
        transport = httpx.ASGITransport(app=docs_app.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http_client:
            yield http_client
    finally:
        docs_app.app.dependency_overrides.clear()
        async with engine.begin() as connection:
            await connection.run_sync(docs_app.Base.metadata.drop_all)


async def test_documented_flow(client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]) -> None:
    """Register, log in, read and update /users/me, call a protected route, log out: FastAPI Users' answers."""
    registered = await client.post("/auth/register", json={"email": "King.Arthur@Camelot.bt", "password": PASSWORD})
    login = await client.post("/auth/jwt/login", data={"username": "king.arthur@camelot.bt", "password": PASSWORD})
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = await client.get("/users/me", headers=headers)
    patched = await client.patch("/users/me", json={"email": "arthur@camelot.bt"}, headers=headers)
    hello = await client.get("/authenticated-route", headers=headers)
    logout = await client.post("/auth/jwt/logout", headers=headers)

    assert registered.status_code == 201
    user_id = registered.json()["id"]
    assert registered.json() == {
        "id": user_id,
        "email": "King.Arthur@camelot.bt",
        "is_active": True,
        "is_superuser": False,
        "is_verified": False,
    }
    assert (login.status_code, login.json()["token_type"]) == (200, "bearer")
    assert (me.status_code, me.json()["email"]) == (200, "King.Arthur@camelot.bt")
    assert (patched.status_code, patched.json()["email"]) == (200, "arthur@camelot.bt")
    assert hello.json() == {"message": "Hello arthur@camelot.bt!"}
    assert (logout.status_code, logout.content) == (204, b"")
    assert f"User {user_id} has registered." in capsys.readouterr().out


async def test_documented_errors(client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]) -> None:
    """The documented app answers FastAPI Users' error statuses and codes."""
    await client.post("/auth/register", json={"email": "arthur@camelot.bt", "password": PASSWORD})

    duplicate = await client.post("/auth/register", json={"email": "ARTHUR@camelot.bt", "password": PASSWORD})
    bad_login = await client.post("/auth/jwt/login", data={"username": "arthur@camelot.bt", "password": "nope"})
    anonymous = await client.get("/users/me")
    forgot = await client.post("/auth/forgot-password", json={"email": "arthur@camelot.bt"})
    bad_reset = await client.post("/auth/reset-password", json={"token": "x", "password": PASSWORD})
    verify_request = await client.post("/auth/request-verify-token", json={"email": "arthur@camelot.bt"})
    bad_verify = await client.post("/auth/verify", json={"token": "x"})

    assert (duplicate.status_code, duplicate.json()) == (400, {"detail": "REGISTER_USER_ALREADY_EXISTS"})
    assert (bad_login.status_code, bad_login.json()) == (400, {"detail": "LOGIN_BAD_CREDENTIALS"})
    assert (anonymous.status_code, anonymous.json()) == (401, {"detail": "Unauthorized"})
    assert (forgot.status_code, forgot.json()) == (202, None)
    assert (bad_reset.status_code, bad_reset.json()) == (400, {"detail": "RESET_PASSWORD_BAD_TOKEN"})
    assert (verify_request.status_code, verify_request.json()) == (202, None)
    assert (bad_verify.status_code, bad_verify.json()) == (400, {"detail": "VERIFY_USER_BAD_TOKEN"})
    output = capsys.readouterr().out
    assert "Reset token: " in output
    assert "Verification token: " in output


@pytest.mark.filterwarnings("error::jwt.warnings.InsecureKeyLengthWarning")
async def test_short_documented_secret_warns(client: httpx.AsyncClient) -> None:
    """The documentation's 6-byte secret still logs in, with PyJWT's RFC 7518 key-length warning."""
    await client.post("/auth/register", json={"email": "arthur@camelot.bt", "password": PASSWORD})

    with pytest.warns(InsecureKeyLengthWarning):
        login = await client.post("/auth/jwt/login", data={"username": "arthur@camelot.bt", "password": PASSWORD})

    assert login.status_code == 200
