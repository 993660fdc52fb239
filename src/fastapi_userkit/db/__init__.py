"""Storage: the :class:`BaseUserDatabase` protocol and the SQLAlchemy adapter.

``fastapi_users.db`` and ``fastapi_users_db_sqlalchemy`` both map here.
"""

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
    "now_utc",
]
