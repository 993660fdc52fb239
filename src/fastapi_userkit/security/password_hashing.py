"""Hash and verify passwords in their normalised form: the one place the manager goes through.

Registration, password change, reset (all through ``BaseUserManager.create`` and ``_update``) and
login (``authenticate``) call these two functions, so a password is always hashed and verified
in the same NFKC form (:func:`~fastapi_userkit.security.password_policy.normalize_password`),
whatever form the client's keyboard or OS produced.

Hashes made before normalisation (by FastAPI Users, or by an app that hashed elsewhere) still
verify: when the normalised form fails and differs from what the client sent, the raw form is
tried, and on success the hash is replaced by one of the normalised form. Only passwords that
NFKC changes pay for that second check, and the cost depends on the input alone, never on
whether the account exists.
"""

from __future__ import annotations

from fastapi_userkit.password import PasswordHelperProtocol, hash_password, verify_and_update_password
from fastapi_userkit.security.password_policy import normalize_password

__all__ = ["hash_normalized_password", "verify_normalized_password"]


async def hash_normalized_password(helper: PasswordHelperProtocol, password: str) -> str:
    """Hash the NFKC form of ``password`` in a worker thread."""
    return await hash_password(helper, normalize_password(password))


async def verify_normalized_password(
    helper: PasswordHelperProtocol, password: str, hashed_password: str
) -> tuple[bool, str | None]:
    """Verify ``password`` against ``hashed_password``, normalised first, raw as a fallback.

    Returns:
        ``(valid, new_hash)``: ``new_hash`` is set when the stored hash should be replaced
        (older algorithm or parameters, or a hash of the un-normalised form).
    """
    normalized = normalize_password(password)
    verified, updated_hash = await verify_and_update_password(helper, normalized, hashed_password)
    if verified or normalized == password:
        return verified, updated_hash
    verified, _ = await verify_and_update_password(helper, password, hashed_password)
    if not verified:
        return False, None
    return True, await hash_password(helper, normalized)
