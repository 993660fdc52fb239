"""Values the database refuses in an application's own columns are a 400, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.app_factory import TestApp
from tests.router.helpers import bearer, count_users, create_user, fetch_user, login

TOO_LONG = "x" * 300  # the test app's first_name is String(255)


@pytest.mark.parametrize("first_name", [TOO_LONG, "nul\x00byte"])
async def test_register_with_refused_value(client: httpx.AsyncClient, test_app: TestApp, first_name: str) -> None:
    """Registration with a value the column cannot hold answers 400 USER_DATA_INVALID and writes nothing."""
    response = await client.post(
        "/auth/register",
        json={"email": "dagonet@camelot.bt", "password": "a jester's passphrase", "first_name": first_name},
    )

    if response.status_code == 201:
        # SQLite stores any length and NUL bytes: nothing to refuse there.
        assert test_app.session_maker.kw["bind"].dialect.name == "sqlite"
        return
    assert response.status_code == 400
    assert response.json() == {"detail": "USER_DATA_INVALID"}
    assert await count_users(test_app) == 0


async def test_update_with_refused_value_keeps_the_user(client: httpx.AsyncClient, test_app: TestApp) -> None:
    """PATCH /users/me with a refused value answers 400 (or stores it on SQLite) and loses nothing else."""
    await create_user(test_app, "dinadan@camelot.bt")
    token = await login(client, "dinadan@camelot.bt")

    response = await client.patch("/users/me", json={"first_name": TOO_LONG}, headers=bearer(token))
    me = await client.get("/users/me", headers=bearer(token))

    user = await fetch_user(test_app, "dinadan@camelot.bt")
    assert user is not None
    assert me.status_code == 200
    if test_app.session_maker.kw["bind"].dialect.name == "sqlite":
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert response.json() == {"detail": "USER_DATA_INVALID"}
        assert user.first_name is None
