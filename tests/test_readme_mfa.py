"""The README's two-factor examples: the app's wiring and the API client's sign-in, run end to end."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from tests.readme_examples import run_examples

PASSWORD = "excalibur-is-mine-1189"
EMAIL = "arthur@camelot.bt"


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the example in a scratch directory (its SQLite file lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_mfa_example(in_tmp_dir: Path) -> None:
    """Enrol through the example's routes; its client's sign_in then answers the challenge with a code."""
    namespace = run_examples("quickstart", "mfa", "mfa-client")
    app: FastAPI = namespace["app"]
    sign_in = namespace["sign_in"]

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
            first = await sign_in(client, EMAIL, PASSWORD, lambda: pytest.fail("no code was asked for yet"))
            headers = {"Authorization": f"Bearer {first}"}
            secret = (await client.post("/users/me/mfa/totp", headers=headers)).json()["secret"]
            confirmed = await client.post(
                "/users/me/mfa/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=headers
            )
            codes = confirmed.json()["recovery_codes"]
            asked: list[str] = []

            def ask_code() -> str:
                asked.append("asked")
                return str(codes[0])

            second = await sign_in(client, EMAIL, PASSWORD, ask_code)
            me = await client.get("/users/me", headers={"Authorization": f"Bearer {second}"})
            unknown = await client.post("/auth/jwt/mfa", json={"challenge_token": "x" * 43, "code": codes[1]})
            # One session serves the user database and both stores here: a refused code rolls it back.
            login = await client.post("/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD})
            token = login.json()["challenge_token"]
            used = await client.post("/auth/jwt/mfa", json={"challenge_token": token, "code": codes[0]})
            totp_reused = await client.post("/auth/jwt/mfa", json={"challenge_token": token, "code": "000000"})
    await namespace["engine"].dispose()

    assert confirmed.status_code == 200
    assert asked == ["asked"]
    assert me.json()["email"] == EMAIL
    assert unknown.json() == {"detail": "MFA_CHALLENGE_INVALID"}
    assert (used.status_code, used.json()) == (400, {"detail": "MFA_INVALID_CODE"})
    assert totp_reused.status_code == 400
