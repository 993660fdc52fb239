"""The database token strategy and its storage protocols."""

from fastapi_userkit.authentication.strategy.db.models import AP, AccessTokenDatabase, AccessTokenProtocol
from fastapi_userkit.authentication.strategy.db.strategy import DatabaseStrategy

__all__ = ["AP", "AccessTokenDatabase", "AccessTokenProtocol", "DatabaseStrategy"]
