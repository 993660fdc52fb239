"""Contract §2.5: ``/users/me`` and ``/users/{id}``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from fastapi_userkit import InvalidPasswordException
from fastapi_userkit.manager import REDACTED
from tests.app_factory import TestApp, make_app
from tests.conftest import SessionMaker
from tests.router.helpers import PASSWORD, bearer, client_for, create_user, fetch_user, login

NOT_FOUND = {"detail": "Not Found"}
FORBIDDEN = {"detail": "Forbidden"}
UNAUTHORIZED = {"detail": "Unauthorized"}


async def superuser_token(test_app: TestApp, client: httpx.AsyncClient) -> str:
    """Create a superuser and log it in."""
    await create_user(test_app, "admin@example.com", is_superuser=True)
    return await login(client, "admin@example.com")


def test_route_names(test_app: TestApp) -> None:
    """The users routes carry their contract names."""
    app = test_app.app
    some_id = str(uuid.uuid4())

    assert app.url_path_for("users:current_user") == "/users/me"
    assert app.url_path_for("users:patch_current_user") == "/users/me"
    assert app.url_path_for("users:user", id=some_id) == f"/users/{some_id}"
    assert app.url_path_for("users:patch_user", id=some_id) == f"/users/{some_id}"
    assert app.url_path_for("users:delete_user", id=some_id) == f"/users/{some_id}"


async def test_get_me(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """GET /me answers 200 with the read schema of the current user."""
    user = await create_user(test_app)
    token = await login(client)

    response = await client.get("/users/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id),
        "email": "user@example.com",
        "is_active": True,
        "is_superuser": False,
        "is_verified": False,
        "first_name": None,
    }


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_me_without_token(client: httpx.AsyncClient, method: str) -> None:
    """/me without a token is a 401 Unauthorized."""
    response = await client.request(method, "/users/me", json={})

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


async def test_me_requires_verification(http_db: SessionMaker) -> None:
    """With requires_verification an unverified user gets 403 on /me, a verified one 200."""
    test_app = make_app(http_db, requires_verification=True)
    await create_user(test_app, "unverified@example.com")
    await create_user(test_app, "verified@example.com", is_verified=True)
    async with client_for(test_app.app) as client:
        verified = await login(client, "verified@example.com")
        # An unverified user cannot log in here; issue its token through the cookie-less strategy.
        backend = test_app.backends["jwt"]
        strategy: Any = backend.get_strategy()
        unverified_user = await fetch_user(test_app, "unverified@example.com")
        unverified = await strategy.write_token(unverified_user)

        refused = await client.get("/users/me", headers=bearer(unverified))
        accepted = await client.get("/users/me", headers=bearer(verified))

    assert (refused.status_code, refused.json()) == (403, FORBIDDEN)
    assert accepted.status_code == 200


async def test_patch_me(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """PATCH /me changes the fields sent and only those, and calls on_after_update."""
    user = await create_user(test_app, is_verified=True)
    token = await login(client)

    response = await client.patch("/users/me", json={"first_name": "Lancelot"}, headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["first_name"] == "Lancelot"
    assert response.json()["is_verified"] is True
    assert test_app.hooks.last("on_after_update")["update_dict"] == {"first_name": "Lancelot"}
    assert test_app.hooks.last("on_after_update")["user"].id == user.id


async def test_patch_me_null_email(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """``{"email": null}`` is a 200 that loses nothing (FastAPI Users answered 500)."""
    await create_user(test_app, is_verified=True)
    token = await login(client)

    response = await client.patch(
        "/users/me", json={"email": None, "password": None, "first_name": "Gawain"}, headers=bearer(token)
    )

    assert response.status_code == 200
    assert response.json()["email"] == "user@example.com"
    assert response.json()["is_verified"] is True
    stored = await fetch_user(test_app, "user@example.com")
    assert stored is not None
    assert stored.first_name == "Gawain"
    assert (await client.get("/users/me", headers=bearer(token))).status_code == 200
    assert await login(client)


async def test_patch_me_email(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """Changing one's e-mail address un-verifies it."""
    await create_user(test_app, is_verified=True)
    token = await login(client)

    response = await client.patch("/users/me", json={"email": "new@example.com"}, headers=bearer(token))

    assert response.status_code == 200
    assert (response.json()["email"], response.json()["is_verified"]) == ("new@example.com", False)


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@example.com"])
async def test_patch_me_email_taken(test_app: TestApp, client: httpx.AsyncClient, email: str) -> None:
    """An e-mail address of another user, in any case, is UPDATE_USER_EMAIL_ALREADY_EXISTS and changes nothing."""
    await create_user(test_app)
    await create_user(test_app, "taken@example.com")
    token = await login(client)

    response = await client.patch("/users/me", json={"email": email, "first_name": "X"}, headers=bearer(token))

    assert (response.status_code, response.json()) == (400, {"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"})
    stored = await fetch_user(test_app, "user@example.com")
    assert stored is not None
    assert stored.first_name is None


async def test_patch_me_invalid_password(http_db: SessionMaker) -> None:
    """A new password refused by the policy is UPDATE_USER_INVALID_PASSWORD with the reason."""

    async def reject_short(password: str, user: Any) -> None:
        if len(password) < 10:
            raise InvalidPasswordException(reason="too short")

    test_app = make_app(http_db, validate_password=reject_short)
    await create_user(test_app)
    async with client_for(test_app.app) as client:
        token = await login(client)
        response = await client.patch("/users/me", json={"password": "short"}, headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == {"detail": {"code": "UPDATE_USER_INVALID_PASSWORD", "reason": "too short"}}


async def test_patch_me_cannot_raise_privileges(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """is_superuser, is_verified and is_active sent to PATCH /me are ignored."""
    await create_user(test_app)
    token = await login(client)

    response = await client.patch(
        "/users/me",
        json={"is_superuser": True, "is_verified": True, "is_active": False},
        headers=bearer(token),
    )

    assert response.status_code == 200
    stored = await fetch_user(test_app, "user@example.com")
    assert stored is not None
    assert (stored.is_active, stored.is_superuser, stored.is_verified) == (True, False, False)


async def test_password_change_ends_old_jwt(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """After PATCH /me changes the password, a JWT issued before answers 401 and the hook sees no password."""
    await create_user(test_app)
    old_token = await login(client)
    cookie_login = await client.post("/auth/cookie/login", data={"username": "user@example.com", "password": PASSWORD})
    old_cookie = cookie_login.cookies["fastapiusersauth"]
    client.cookies.clear()

    response = await client.patch("/users/me", json={"password": "a brand new passphrase"}, headers=bearer(old_token))

    assert response.status_code == 200
    assert test_app.hooks.last("on_after_update")["update_dict"] == {"password": REDACTED}
    assert (await client.get("/users/me", headers=bearer(old_token))).status_code == 401
    stale_cookie = await client.get("/users/me", headers={"Cookie": f"fastapiusersauth={old_cookie}"})
    assert stale_cookie.status_code == 401
    new_token = await login(client, password="a brand new passphrase")
    assert (await client.get("/users/me", headers=bearer(new_token))).status_code == 200


@pytest.mark.parametrize(
    "body", [{"email": "not-an-email"}, {"is_active": "sometimes"}, [], "text"], ids=["email", "flag", "list", "str"]
)
async def test_patch_me_invalid_body(test_app: TestApp, client: httpx.AsyncClient, body: Any) -> None:
    """A body that does not fit the update schema is a 422."""
    await create_user(test_app)
    token = await login(client)

    response = await client.patch("/users/me", json=body, headers=bearer(token))

    assert response.status_code == 422


async def test_get_user_by_id(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A superuser reads any user by id."""
    user = await create_user(test_app)
    token = await superuser_token(test_app, client)

    response = await client.get(f"/users/{user.id}", headers=bearer(token))

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["email"]) == (str(user.id), "user@example.com")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_user_by_id_needs_superuser(test_app: TestApp, client: httpx.AsyncClient, method: str) -> None:
    """/{id} answers 401 without a token and 403 to a regular user, even for an unknown id (checked first)."""
    user = await create_user(test_app)
    token = await login(client)

    anonymous = await client.request(method, f"/users/{user.id}", json={})
    regular = await client.request(method, f"/users/{user.id}", json={}, headers=bearer(token))
    regular_unknown = await client.request(method, f"/users/{uuid.uuid4()}", json={}, headers=bearer(token))

    assert (anonymous.status_code, anonymous.json()) == (401, UNAUTHORIZED)
    assert (regular.status_code, regular.json()) == (403, FORBIDDEN)
    assert (regular_unknown.status_code, regular_unknown.json()) == (403, FORBIDDEN)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "user_id",
    [str(uuid.uuid4()), "not-a-uuid", "1", "9" * 400, "%00", "00000000-0000-0000-0000-00000000000g"],
    ids=["unknown", "word", "int", "huge", "nul", "almost-uuid"],
)
async def test_user_by_id_not_found(test_app: TestApp, client: httpx.AsyncClient, method: str, user_id: str) -> None:
    """An unknown or unparsable id is a 404 Not Found for a superuser."""
    token = await superuser_token(test_app, client)

    response = await client.request(method, f"/users/{user_id}", json={}, headers=bearer(token))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


async def test_superuser_patches_flags(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A superuser's PATCH /{id} can set is_active, is_superuser and is_verified."""
    user = await create_user(test_app)
    token = await superuser_token(test_app, client)

    response = await client.patch(
        f"/users/{user.id}",
        json={"is_active": False, "is_superuser": True, "is_verified": True, "first_name": "Mordred"},
        headers=bearer(token),
    )

    assert response.status_code == 200
    assert {key: response.json()[key] for key in ("is_active", "is_superuser", "is_verified", "first_name")} == {
        "is_active": False,
        "is_superuser": True,
        "is_verified": True,
        "first_name": "Mordred",
    }
    stored = await fetch_user(test_app, "user@example.com")
    assert stored is not None
    assert (stored.is_active, stored.is_superuser, stored.is_verified) == (False, True, True)


async def test_superuser_patch_null_email(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """``{"email": null, "is_active": null}`` on PATCH /{id} is a 200 that changes nothing."""
    user = await create_user(test_app)
    token = await superuser_token(test_app, client)

    response = await client.patch(f"/users/{user.id}", json={"email": None, "is_active": None}, headers=bearer(token))

    assert response.status_code == 200
    assert (response.json()["email"], response.json()["is_active"]) == ("user@example.com", True)


async def test_superuser_patch_errors(http_db: SessionMaker) -> None:
    """PATCH /{id} answers UPDATE_USER_EMAIL_ALREADY_EXISTS and UPDATE_USER_INVALID_PASSWORD."""

    async def reject_short(password: str, user: Any) -> None:
        if len(password) < 10:
            raise InvalidPasswordException(reason="too short")

    test_app = make_app(http_db, validate_password=reject_short)
    user = await create_user(test_app)
    await create_user(test_app, "taken@example.com")
    async with client_for(test_app.app) as client:
        token = await superuser_token(test_app, client)
        taken = await client.patch(f"/users/{user.id}", json={"email": "Taken@example.com"}, headers=bearer(token))
        short = await client.patch(f"/users/{user.id}", json={"password": "short"}, headers=bearer(token))
        body = await client.patch(f"/users/{user.id}", json={"email": "bad"}, headers=bearer(token))

    assert (taken.status_code, taken.json()) == (400, {"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"})
    assert (short.status_code, short.json()) == (
        400,
        {"detail": {"code": "UPDATE_USER_INVALID_PASSWORD", "reason": "too short"}},
    )
    assert body.status_code == 422


async def test_superuser_deletes_user(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """DELETE /{id} answers 204 with no body, runs both hooks, and the user's token stops working."""
    user = await create_user(test_app)
    user_token = await login(client)
    token = await superuser_token(test_app, client)

    response = await client.delete(f"/users/{user.id}", headers=bearer(token))

    assert (response.status_code, response.content) == (204, b"")
    assert [name for name in test_app.hooks.names() if "delete" in name] == ["on_before_delete", "on_after_delete"]
    assert await fetch_user(test_app, "user@example.com") is None
    assert (await client.get(f"/users/{user.id}", headers=bearer(token))).status_code == 404
    assert (await client.get("/users/me", headers=bearer(user_token))).status_code == 401


async def test_deactivated_user_token_is_refused(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A user deactivated by a superuser gets 401 on its very next request."""
    user = await create_user(test_app)
    user_token = await login(client)
    token = await superuser_token(test_app, client)

    await client.patch(f"/users/{user.id}", json={"is_active": False}, headers=bearer(token))
    response = await client.get("/users/me", headers=bearer(user_token))

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


async def test_unverified_superuser_with_requires_verification(http_db: SessionMaker) -> None:
    """With requires_verification an unverified superuser gets 403 on /{id}."""
    test_app = make_app(http_db, requires_verification=True)
    admin = await create_user(test_app, "admin@example.com", is_superuser=True)
    strategy: Any = test_app.backends["jwt"].get_strategy()
    token = await strategy.write_token(admin)

    async with client_for(test_app.app) as client:
        response = await client.get(f"/users/{admin.id}", headers=bearer(token))

    assert (response.status_code, response.json()) == (403, FORBIDDEN)


async def test_cookie_session_survives_own_password_change(test_app: TestApp, client: httpx.AsyncClient) -> None:
    """A cookie session that changes its password gets a fresh cookie; the old cookie answers 401."""
    await create_user(test_app)
    login_response = await client.post(
        "/auth/cookie/login", data={"username": "user@example.com", "password": PASSWORD}
    )
    old_cookie = login_response.cookies["fastapiusersauth"]
    client.cookies.clear()

    response = await client.patch(
        "/users/me",
        json={"password": "a brand new passphrase"},
        headers={"Cookie": f"fastapiusersauth={old_cookie}"},
    )

    assert response.status_code == 200
    new_cookie = response.cookies["fastapiusersauth"]
    client.cookies.clear()
    assert new_cookie != old_cookie
    stale = await client.get("/users/me", headers={"Cookie": f"fastapiusersauth={old_cookie}"})
    fresh = await client.get("/users/me", headers={"Cookie": f"fastapiusersauth={new_cookie}"})
    assert (stale.status_code, fresh.status_code) == (401, 200)
