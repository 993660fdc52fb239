"""The README's "Security" section (``docs_snippets/security.md``): its examples run as written.

The examples continue the README's main example, so they run in a namespace holding what that
example defines (``User``, ``Base``, ``SECRET``, ``get_user_db``, ``fastapi_users``, ``app``...),
taken from the documented test app.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.orm import DeclarativeBase

from fastapi_userkit import FastAPIUsers
from fastapi_userkit.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_userkit.db import SQLAlchemyUserDatabase
from tests.app_factory import SECRET, UserCreate, UserRead
from tests.models import OAuthAccount, User

SNIPPET = Path(__file__).resolve().parents[2] / "docs_snippets" / "security.md"
_EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\s*```python\n(?P<code>.*?)```", re.DOTALL)


class DocsBase(DeclarativeBase):
    """The reader's metadata (kept apart from the test models' own)."""


def readme_namespace() -> dict[str, Any]:
    """What the README's main example defines before the Security section."""

    async def get_user_db(session: Any = None) -> Any:
        yield SQLAlchemyUserDatabase[User, uuid.UUID](session, User, OAuthAccount)

    async def get_user_manager() -> Any:  # replaced by the example
        yield None

    backend = AuthenticationBackend[User, uuid.UUID](
        "jwt", BearerTransport("auth/jwt/login"), lambda: JWTStrategy(SECRET, 3600)
    )
    return {
        "__name__": "security_docs_example",
        "User": User,
        "Base": DocsBase,
        "SECRET": SECRET,
        "UserRead": UserRead,
        "UserCreate": UserCreate,
        "Depends": Depends,
        "get_user_db": get_user_db,
        "fastapi_users": FastAPIUsers[User, uuid.UUID](get_user_manager, [backend]),
        "app": FastAPI(),
    }


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    """The namespace after running every example of the section, in order."""
    namespace = readme_namespace()
    for match in _EXAMPLE.finditer(SNIPPET.read_text()):
        code = compile(match["code"], f"{SNIPPET}:{match['name']}", "exec", dont_inherit=True)
        exec(code, namespace)  # noqa: S102 - running our own documentation
    return namespace


def test_section_has_its_three_examples() -> None:
    """The section documents the policy, the registration conflict and the events table."""
    names = [match["name"] for match in _EXAMPLE.finditer(SNIPPET.read_text())]

    assert names == ["security-password-policy", "security-registration-conflict", "security-events"]


def test_policy_example_configures_the_manager(example: dict[str, Any]) -> None:
    """The documented ``password_policy`` asks for 15 characters and refuses the app's name."""
    policy = example["UserManager"].password_policy

    assert (policy.min_length, policy.context_words) == (15, ("camelot",))


def test_conflict_example_builds_an_enumeration_safe_router(example: dict[str, Any]) -> None:
    """The conflict example gives a manager with the hook and a register router."""
    app = FastAPI()
    app.include_router(example["register_router"])

    assert list(app.openapi()["paths"]) == ["/register"]
    assert "on_registration_conflict" in vars(example["ConflictAwareUserManager"])


def test_events_example_declares_the_table_and_mounts_the_route(example: dict[str, Any]) -> None:
    """The events example declares ``security_event`` and mounts ``/users/me/security-events``."""
    table = example["SecurityEvent"].__table__

    assert table.name == "security_event"
    assert {"id", "user_id", "type", "outcome", "created_at", "ip_address", "user_agent", "details"} <= set(
        table.c.keys()
    )
    assert "/users/me/security-events" in example["app"].openapi()["paths"]
