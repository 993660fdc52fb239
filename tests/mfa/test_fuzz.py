"""Schemathesis over the two-factor routes (issue 18): no 5xx, answers as the OpenAPI schema says.

The documented test app with ``mfa`` on is fuzzed in process, like ``tests/security/test_fuzz.py``
does for the whole app, restricted here to the operations two-factor login adds or changes.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio.from_thread
import anyio.to_thread
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fastapi_userkit.authentication import JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.security import SecuritySettings
from tests.app_factory import SECRET
from tests.conftest import SessionMaker
from tests.mfa.conftest import Clock
from tests.mfa.http_support import mfa_app
from tests.models import OAuthAccount, User

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SETTINGS = settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
MFA_OPERATIONS = {
    "POST /auth/jwt/login",
    "POST /auth/jwt/mfa",
    "POST /auth/cookie/login",
    "POST /auth/cookie/mfa",
    "GET /users/me/mfa",
    "POST /users/me/mfa/totp",
    "POST /users/me/mfa/totp/confirm",
    "DELETE /users/me/mfa/totp",
    "POST /users/me/mfa/recovery-codes",
    "DELETE /users/{id}/mfa",
}


async def _superuser(session_maker: SessionMaker) -> uuid.UUID:
    async with session_maker() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        created = await user_db.create(
            {"email": "galahad@camelot.bt", "hashed_password": "no-password", "is_superuser": True}
        )
        return created.id


async def _token(session_maker: SessionMaker, user_id: uuid.UUID) -> str | None:
    async with session_maker() as session:
        user = await SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount).get(user_id)
        if user is None or not user.is_active:
            return None
        return await JWTStrategy[User, uuid.UUID](SECRET, 3600).write_token(user)


@pytest.mark.parametrize("authenticated", [False, True], ids=["anonymous", "superuser"])
async def test_mfa_routes_fuzz(http_db: SessionMaker, authenticated: bool) -> None:
    """Every two-factor operation, fuzzed with valid and invalid data, answers without 5xx and as documented."""
    test_app = mfa_app(http_db, Clock(), security=SecuritySettings(rate_limit=None))
    user_id = await _superuser(http_db)
    operations_run: list[str] = []

    def headers_for_case() -> dict[str, Any] | None:
        if not authenticated:
            return None
        token = anyio.from_thread.run(_token, http_db, user_id)
        return None if token is None else {"Authorization": f"Bearer {token}"}

    def fuzz() -> None:
        schema = schemathesis.openapi.from_asgi("/openapi.json", test_app.app)
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            if operation.label not in MFA_OPERATIONS:
                continue
            has_input = bool(len(operation.body) or len(operation.query))
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_input else (GenerationMode.POSITIVE,)
            for mode in modes:

                @FUZZ_SETTINGS
                @given(case=operation.as_strategy(generation_mode=mode))
                def run_case(case: Any) -> None:
                    case.call_and_validate(headers=headers_for_case(), checks=CHECKS)

                run_case()
            operations_run.append(operation.label)

    await anyio.to_thread.run_sync(fuzz)

    assert set(operations_run) == MFA_OPERATIONS
