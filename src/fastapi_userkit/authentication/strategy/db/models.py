"""Protocols for the database token strategy's storage (FastAPI Users' import path).

They are declared in :mod:`fastapi_userkit.db._token_protocols`, beside the storage that
implements them, so the storage layer does not import the authentication package (issue 17).
"""

from fastapi_userkit.db._token_protocols import AP, AccessTokenDatabase, AccessTokenProtocol

__all__ = ["AP", "AccessTokenDatabase", "AccessTokenProtocol"]
