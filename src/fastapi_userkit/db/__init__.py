"""Storage: the :class:`BaseUserDatabase` protocol and the SQLAlchemy adapter.

``fastapi_users.db`` and ``fastapi_users_db_sqlalchemy`` both map here. :func:`set_fast_paths`
turns off, for the whole process, the per-request reads that rely on private attributes of
SQLAlchemy and aiosqlite (on by default; same results through public APIs when off).
"""

from fastapi_userkit._fast_paths import fast_paths_enabled, set_fast_paths
from fastapi_userkit.db._types import GUID, UUID_ID, TIMESTAMPAware, now_utc
from fastapi_userkit.db.base import BaseUserDatabase, UserDatabaseDependency
from fastapi_userkit.db.sqlalchemy import (
    SQLAlchemyBaseOAuthAccountTable,
    SQLAlchemyBaseOAuthAccountTableUUID,
    SQLAlchemyBaseUserTable,
    SQLAlchemyBaseUserTableUUID,
    SQLAlchemyUserDatabase,
)

__all__ = [
    "GUID",
    "UUID_ID",
    "BaseUserDatabase",
    "SQLAlchemyBaseOAuthAccountTable",
    "SQLAlchemyBaseOAuthAccountTableUUID",
    "SQLAlchemyBaseUserTable",
    "SQLAlchemyBaseUserTableUUID",
    "SQLAlchemyUserDatabase",
    "TIMESTAMPAware",
    "UserDatabaseDependency",
    "fast_paths_enabled",
    "now_utc",
    "set_fast_paths",
]
