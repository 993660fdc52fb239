"""fastapi-userkit: users management and authentication for FastAPI.

A drop-in successor to FastAPI Users: replace ``fastapi_users`` by ``fastapi_userkit`` (and
``fastapi_users_db_sqlalchemy`` by ``fastapi_userkit.db``) in the import lines.
"""

__version__ = "0.1.0"

from fastapi_userkit import models, schemas
from fastapi_userkit.exceptions import InvalidID, InvalidPasswordException
from fastapi_userkit.fastapi_users import FastAPIUsers
from fastapi_userkit.manager import BaseUserManager, IntegerIDMixin, UUIDIDMixin

__all__ = [
    "BaseUserManager",
    "FastAPIUsers",
    "IntegerIDMixin",
    "InvalidID",
    "InvalidPasswordException",
    "UUIDIDMixin",
    "models",
    "schemas",
]
