"""Pydantic schemas for reading, creating and updating users (the FastAPI Users shapes).

Applications subclass these to add their own fields::

    class UserRead(schemas.BaseUser[uuid.UUID]):
        display_name: str | None = None
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, WithJsonSchema
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from fastapi_userkit._email_forms import lookalike_problem
from fastapi_userkit.models import ID

__all__ = [
    "SCHEMA",
    "UC",
    "UU",
    "BaseOAuthAccount",
    "BaseOAuthAccountMixin",
    "BaseOAuthAccountWithTokens",
    "BaseOAuthAccountWithTokensMixin",
    "BaseUser",
    "BaseUserCreate",
    "BaseUserUpdate",
    "CreateUpdateDictModel",
    "U",
    "model_dump",
    "model_validate",
]

_PRIVILEGED_FIELDS = {"id", "is_superuser", "is_active", "is_verified", "oauth_accounts"}


class CreateUpdateDictModel(BaseModel):
    """A model that can say which of its fields a create or update should write."""

    def create_update_dict(self) -> dict[str, Any]:
        """Fields set by the client, without the privileged ones (what a user may change)."""
        return self.model_dump(exclude_unset=True, exclude=_PRIVILEGED_FIELDS)

    def create_update_dict_superuser(self) -> dict[str, Any]:
        """Fields set by the client, privileged ones included (what a superuser may change)."""
        return self.model_dump(exclude_unset=True, exclude={"id"})


@lru_cache(maxsize=4096)
def _normalized_email(value: str) -> str:
    return validate_email(value)[1]


# The e-mail of a user the API returns: checked exactly as ``EmailStr`` checks it (same errors,
# same JSON schema), with the result of that pure function remembered for the addresses seen
# last. Every authenticated ``GET /users/me`` validates the stored address again, and
# email-validator's IDNA checks were a tenth of that request's CPU (bench/RESULTS.md).
_ReadEmail = Annotated[str, AfterValidator(_normalized_email), WithJsonSchema({"type": "string", "format": "email"})]


def _registrable_email(value: str) -> str:
    problem = lookalike_problem(value)
    if problem is not None:
        raise PydanticCustomError("value_error", "value is not a valid email address: {reason}", {"reason": problem})
    return value


# The e-mail a client gives an account (registration, update): ``EmailStr``, and no look-alike
# spelling that SQLite, PostgreSQL and MariaDB would match to accounts differently (issue 16).
_NewEmail = Annotated[EmailStr, AfterValidator(_registrable_email)]


class BaseUser(CreateUpdateDictModel, Generic[ID]):
    """The user as the API returns it."""

    id: ID
    email: _ReadEmail
    is_active: bool = True
    is_superuser: bool = False
    is_verified: bool = False

    model_config = ConfigDict(from_attributes=True)


class BaseUserCreate(CreateUpdateDictModel):
    """The body of a registration.

    The flags exist for programmatic creation (``safe=False``); the register route ignores them.
    """

    email: _NewEmail
    password: str
    is_active: bool | None = True
    is_superuser: bool | None = False
    is_verified: bool | None = False


class BaseUserUpdate(CreateUpdateDictModel):
    """The body of a user update; every field is optional."""

    password: str | None = None
    email: _NewEmail | None = None
    is_active: bool | None = None
    is_superuser: bool | None = None
    is_verified: bool | None = None


U = TypeVar("U", bound=BaseUser)  # type: ignore[type-arg]  # compat: FastAPI Users' unparameterised bound
UC = TypeVar("UC", bound=BaseUserCreate)
UU = TypeVar("UU", bound=BaseUserUpdate)
SCHEMA = TypeVar("SCHEMA", bound=BaseModel)


class BaseOAuthAccount(BaseModel, Generic[ID]):
    """An OAuth account as the API returns it, without the provider's tokens.

    ``access_token`` and ``refresh_token`` are still read (from the ORM object or a dict) and
    available as attributes, but are left out of ``model_dump()``, of every API response and
    of the response schema: in FastAPI Users they reached any client that could read the
    user (contract section 1.4). An application that really means to send them uses
    :class:`BaseOAuthAccountWithTokens` / :class:`BaseOAuthAccountWithTokensMixin`.
    """

    id: ID
    oauth_name: str
    access_token: str = Field(exclude=True)
    expires_at: int | None = None
    refresh_token: str | None = Field(default=None, exclude=True)
    account_id: str
    account_email: str

    model_config = ConfigDict(from_attributes=True)


class BaseOAuthAccountWithTokens(BaseOAuthAccount[ID], Generic[ID]):
    """An OAuth account with the provider's tokens serialised: an explicit opt-in."""

    access_token: str
    refresh_token: str | None = None


class BaseOAuthAccountMixin(BaseModel):
    """Adds the linked OAuth accounts, without provider tokens, to a user read schema."""

    oauth_accounts: list[BaseOAuthAccount[Any]] = []


class BaseOAuthAccountWithTokensMixin(BaseModel):
    """Adds the linked OAuth accounts *with* their provider tokens to a user read schema.

    Only for applications whose clients must hold the provider tokens; anyone who can read the
    user can then act on the provider account.
    """

    oauth_accounts: list[BaseOAuthAccountWithTokens[Any]] = []


def model_dump(model: BaseModel, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Compat helper: ``model.model_dump(...)``."""
    return model.model_dump(*args, **kwargs)


def model_validate(schema: type[SCHEMA], obj: Any, *args: Any, **kwargs: Any) -> SCHEMA:
    """Compat helper: ``schema.model_validate(obj, ...)``."""
    return schema.model_validate(obj, *args, **kwargs)
