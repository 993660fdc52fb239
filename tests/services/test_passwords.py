"""The password service on its own: a storage that cannot give its connection back still hashes."""

from __future__ import annotations

from fastapi_userkit._services.passwords import Passwords
from tests.app_factory import fast_password_helper


async def test_a_storage_without_connection_release_still_hashes() -> None:
    """hash() skips the release a storage does not declare, and the hash verifies the password."""
    helper = fast_password_helper()
    passwords = Passwords(helper, None, object())

    hashed = await passwords.hash("a long passphrase")

    assert helper.verify_and_update("a long passphrase", hashed)[0] is True
