"""The pydantic schemas: which fields a create or update writes, and how users are read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from fastapi_userkit import schemas


class UserCreate(schemas.BaseUserCreate):
    """An application's create schema with a field of its own."""

    first_name: str | None = None


class UserUpdate(schemas.BaseUserUpdate):
    """An application's update schema with a field of its own."""

    first_name: str | None = None


class UserRead(schemas.BaseUser[uuid.UUID], schemas.BaseOAuthAccountMixin):
    """An application's read schema with OAuth accounts."""


@dataclass
class Row:
    """Anything with attributes, standing in for an ORM row."""

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    email: str = "kay@camelot.bt"
    hashed_password: str = "$argon2id$secret"
    is_active: bool = True
    is_superuser: bool = False
    is_verified: bool = True
    oauth_accounts: list[object] = field(default_factory=list)


@dataclass
class AccountRow:
    """An OAuth account row."""

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    oauth_name: str = "camelot"
    access_token: str = "provider-access"
    refresh_token: str | None = "provider-refresh"
    expires_at: int | None = 3600
    account_id: str = "1001"
    account_email: str = "kay@provider.bt"


def test_create_update_dict_drops_privileged_and_unset_fields() -> None:
    """create_update_dict keeps what the client set except id and the flags."""
    create = UserCreate(email="kay@camelot.bt", password="pw", is_superuser=True, is_verified=True, first_name="Kay")

    assert create.create_update_dict() == {"email": "kay@camelot.bt", "password": "pw", "first_name": "Kay"}


def test_create_update_dict_superuser_keeps_the_flags_but_never_the_id() -> None:
    """create_update_dict_superuser keeps the flags the client set, and still drops unset fields."""
    create = UserCreate(email="kay@camelot.bt", password="pw", is_superuser=True)

    assert create.create_update_dict_superuser() == {"email": "kay@camelot.bt", "password": "pw", "is_superuser": True}


def test_update_dicts_contain_only_what_was_sent() -> None:
    """An update schema writes only the fields present in the body, explicit nulls included."""
    update = UserUpdate.model_validate({"email": None, "is_active": False, "first_name": "Kay"})

    assert update.create_update_dict() == {"email": None, "first_name": "Kay"}
    assert update.create_update_dict_superuser() == {"email": None, "is_active": False, "first_name": "Kay"}
    assert UserUpdate().create_update_dict_superuser() == {}


def test_id_is_never_written_even_by_a_superuser() -> None:
    """A read schema's id is excluded from both dicts."""
    user = schemas.BaseUser[uuid.UUID](id=uuid.uuid4(), email="kay@camelot.bt")

    assert "id" not in user.create_update_dict_superuser()
    assert "id" not in user.create_update_dict()


def test_email_is_validated_and_its_domain_normalised() -> None:
    """EmailStr refuses non-addresses and lower-cases the domain, keeping the local part."""
    assert UserCreate(email="Kay@Camelot.BT", password="pw").email == "Kay@camelot.bt"
    with pytest.raises(ValidationError):
        UserCreate(email="not-an-address", password="pw")


def test_create_defaults_match_fastapi_users() -> None:
    """BaseUserCreate's flags default to active, not superuser, not verified; update fields to None."""
    create = schemas.BaseUserCreate(email="kay@camelot.bt", password="pw")
    update = schemas.BaseUserUpdate()

    assert (create.is_active, create.is_superuser, create.is_verified) == (True, False, False)
    assert update.model_dump() == dict.fromkeys(("password", "email", "is_active", "is_superuser", "is_verified"))


def test_read_schema_reads_attributes_and_never_the_hash() -> None:
    """BaseUser reads an ORM-like object; the password hash is not part of it."""
    row = Row()

    read = UserRead.model_validate(row)

    assert read.id == row.id
    assert read.is_verified is True
    assert "hashed_password" not in read.model_dump()


def test_oauth_accounts_are_read_without_provider_tokens() -> None:
    """The OAuth mixin lists linked accounts but leaves provider tokens out of the output."""
    read = UserRead.model_validate(Row(oauth_accounts=[AccountRow()]))

    dumped = read.model_dump()

    assert [a["account_id"] for a in dumped["oauth_accounts"]] == ["1001"]
    assert "access_token" not in dumped["oauth_accounts"][0]
    assert "refresh_token" not in dumped["oauth_accounts"][0]
    assert read.oauth_accounts[0].access_token == "provider-access"


def test_tokens_are_serialised_only_on_explicit_opt_in() -> None:
    """BaseOAuthAccountWithTokens serialises the provider tokens."""
    account = schemas.BaseOAuthAccountWithTokens[uuid.UUID].model_validate(AccountRow())

    assert account.model_dump()["access_token"] == "provider-access"
    assert account.model_dump()["refresh_token"] == "provider-refresh"


def test_compat_helpers_wrap_pydantic() -> None:
    """schemas.model_dump and schemas.model_validate behave as the pydantic methods."""
    row = Row()

    read = schemas.model_validate(UserRead, row)

    assert schemas.model_dump(read, include={"email"}) == {"email": "kay@camelot.bt"}
