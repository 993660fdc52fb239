"""Schemathesis against the documented test app's OpenAPI schema: no 5xx, answers match the schema.

Every operation of ``tests/app_factory.py``'s app (security-events route included) is fuzzed in
process through ASGI, with valid (positive) and invalid (negative) data, once anonymously and
once with a fresh superuser bearer token per case (a case may change the password or log out,
which ends earlier tokens). Examples are few and derandomised, so the run is bounded and
repeatable; the checks are schemathesis' server-error, status-code, content-type and
response-schema conformance checks.
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
from tests.app_factory import SECRET, TestApp
from tests.conftest import SessionMaker
from tests.models import OAuthAccount, User
from tests.security.events_support import SecurityEventRow, app_for, create_event_table

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EMAIL = "galahad@camelot.bt"
FUZZ_SETTINGS = settings(
    max_examples=5,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


async def make_superuser(test_app: TestApp) -> uuid.UUID:
    """Create the superuser the authenticated run acts as."""
    async with test_app.session_maker() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)
        created = await user_db.create(
            {"email": EMAIL, "hashed_password": "no-password", "is_superuser": True, "is_verified": True}
        )
        return created.id


async def fresh_token(session_maker: SessionMaker, user_id: uuid.UUID) -> str | None:
    """A bearer token for the user as it is now (None if a case deleted or deactivated it)."""
    async with session_maker() as session:
        user = await SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount).get(user_id)
        if user is None or not user.is_active:
            return None
        return await JWTStrategy[User, uuid.UUID](SECRET, 3600).write_token(user)


@pytest.mark.parametrize("authenticated", [False, True], ids=["anonymous", "superuser"])
async def test_openapi_schema_fuzz(http_db: SessionMaker, authenticated: bool) -> None:
    """Every operation, fuzzed with valid and invalid data, answers without 5xx and as its schema says."""
    await create_event_table(http_db)
    test_app = app_for(http_db, security_event_table=SecurityEventRow)
    user_id = await make_superuser(test_app)
    operations_run: list[str] = []
    negative_runs: list[str] = []

    def headers_for_case() -> dict[str, Any] | None:
        if not authenticated:
            return None
        token = anyio.from_thread.run(fresh_token, http_db, user_id)
        return None if token is None else {"Authorization": f"Bearer {token}"}

    def fuzz() -> None:
        schema = schemathesis.openapi.from_asgi("/openapi.json", test_app.app)
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            # Negative data needs a body or a query to make invalid: the only other input, the
            # ``{id}`` path segment, is a free-form string, for which no invalid value exists.
            has_input = bool(len(operation.body) or len(operation.query))
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_input else (GenerationMode.POSITIVE,)
            for mode in modes:

                @FUZZ_SETTINGS
                @given(case=operation.as_strategy(generation_mode=mode))
                def run_case(case: Any) -> None:
                    case.call_and_validate(headers=headers_for_case(), checks=CHECKS)

                run_case()
                if mode is GenerationMode.NEGATIVE:
                    negative_runs.append(operation.label)
            operations_run.append(operation.label)

    await anyio.to_thread.run_sync(fuzz)

    assert "GET /users/me/security-events" in operations_run
    assert "POST /auth/jwt/login" in operations_run
    assert len(operations_run) >= 15
    assert len(negative_runs) >= 10
