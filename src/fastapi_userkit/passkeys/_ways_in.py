"""Managing a user's ways in: passkeys deleted under the last-way rule, the password, and notices.

Re-exported by :mod:`fastapi_userkit.passkeys.accounts`, which the JSON routes and the account
pages call; kept apart from the sign-up and sign-in ceremonies there.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import BackgroundTasks
from sqlalchemy import inspect
from starlette.requests import Request

from fastapi_userkit import schemas
from fastapi_userkit._oauth_accounts import has_oauth_accounts, has_usable_password, make_unusable_password
from fastapi_userkit._passkey_exceptions import PasswordAlreadySet, PasswordLastLoginMethod
from fastapi_userkit._services.updates import REDACTED
from fastapi_userkit.manager import BaseUserManager
from fastapi_userkit.models import ID, UP
from fastapi_userkit.passkeys.service import PasskeyService
from fastapi_userkit.passkeys.store import PasskeyCredential
from fastapi_userkit.security.events import SecurityEventType

__all__ = [
    "PasskeyChange",
    "announce",
    "delete_passkey",
    "emit_passkey_event",
    "remove_password",
    "set_first_password",
]

PasskeyChange = Literal["registered", "renamed", "deleted"]
"""A change of a user's passkeys that is announced (:func:`announce`)."""

_EVENTS: Mapping[PasskeyChange, SecurityEventType] = {
    "registered": SecurityEventType.PASSKEY_REGISTERED,
    "renamed": SecurityEventType.PASSKEY_RENAMED,
    "deleted": SecurityEventType.PASSKEY_DELETED,
}
_CHANGES: Mapping[PasskeyChange, str] = {
    "registered": "a passkey named {name!r} was added",
    "renamed": "a passkey was renamed {name!r}",
    "deleted": "the passkey named {name!r} was deleted",
}

# -- the last way in -----------------------------------------------------------------------------


def _has_other_way_in(user: Any) -> bool:
    return has_usable_password(user.hashed_password) or has_oauth_accounts(user)


async def _reread(user: Any) -> Any:
    """``user`` as the database holds it now (password hash, OAuth accounts), not as first loaded.

    An SQLAlchemy user is refreshed in its session after its read transaction ends (MariaDB's
    REPEATABLE READ would otherwise show the snapshot taken earlier in the request); loaded
    objects stay usable, whatever the session's ``expire_on_commit``. Another storage's user (or
    one outside any session) is taken as it is.
    """
    state = inspect(user, raiseerr=False)  # None for another storage's user (not mapped)
    session = None if state is None else state.async_session
    if session is None:
        return user
    sync = session.sync_session
    expire_on_commit = sync.expire_on_commit
    sync.expire_on_commit = False
    try:
        await session.commit()
    finally:
        sync.expire_on_commit = expire_on_commit
    await session.refresh(user)
    return user


async def _has_a_way_in(service: PasskeyService, user: Any) -> bool:
    """Whether the user can still sign in, read afresh: a passkey, a usable password or an OAuth account."""
    return await service.has_passkeys(user.id) or _has_other_way_in(await _reread(user))


async def delete_passkey(service: PasskeyService, user: Any, passkey_id: uuid.UUID) -> PasskeyCredential:
    """Delete one of ``user``'s passkeys, unless it is their last way to sign in.

    A user without a usable password and without a linked OAuth account keeps their last passkey
    (the rule ``oauth_unlink`` applies from the other side).

    The passkey store and the user table are written through different sessions, so no lock
    covers both: a deletion of the last passkey racing :func:`remove_password` would each see the
    other way in and both write. Each of the two therefore checks again *after* its own write is
    committed, with fresh reads, and undoes that write when the user is left with no way in (the
    passkey is put back here, the password hash there). Of two racing operations, the one whose
    re-check runs later sees both writes committed and undoes its own; if both re-checks see both
    writes, both undo. Either way at least one way in remains once both have answered. Checking
    before writing only, as before, could not give that: both checks may precede both writes.

    Raises:
        UnknownPasskey: The user has no such passkey.
        PasskeyLastLoginMethod: It is the user's last way to sign in.
    """
    keep_last = not _has_other_way_in(user)
    # With keep_last the store decides under its own lock (passkey against passkey); without,
    # the password or OAuth account counted above may be going concurrently: check after.
    return await service.delete(
        user.id,
        passkey_id,
        keep_last=keep_last,
        still_reachable=None if keep_last else lambda: _has_a_way_in(service, user),
    )


async def remove_password(
    service: PasskeyService, user_manager: BaseUserManager[UP, ID], user: UP, request: Request | None
) -> UP:
    """Remove ``user``'s password (they sign in with a passkey, or OAuth, from now on).

    The password hash is replaced by an unusable marker. As after a password change, the user's
    sessions end (the current one too: sign in again with the passkey), the ``password_changed``
    event is emitted (``change=removed``) and ``on_after_update`` hears of it (its default mails
    the "password changed" notice). A user without a password is left as they are.

    Once the marker is committed, the user's ways in are read again: if a concurrent deletion of
    their last passkey (or unlink of their last OAuth account) ran meanwhile, the previous hash is
    put back and the removal refused, with no event and no notice (see :func:`delete_passkey`
    for why every interleaving leaves a way in).

    Raises:
        PasswordLastLoginMethod: The user has no passkey and no linked OAuth account.
    """
    previous = user.hashed_password
    if not has_usable_password(previous):
        return user
    if not has_oauth_accounts(user) and not await service.has_passkeys(user.id):
        raise PasswordLastLoginMethod
    updated = await user_manager.user_db.update(user, {"hashed_password": make_unusable_password()})
    if not await _has_a_way_in(service, updated):
        await user_manager.user_db.update(updated, {"hashed_password": previous})
        raise PasswordLastLoginMethod
    # The manager's own step after a password change (issue 16, item 8): stored tokens and sessions end.
    await user_manager.end_sessions(updated, request)
    await user_manager.emit_security_event(
        SecurityEventType.PASSWORD_CHANGED, request, user_id=updated.id, details={"change": "removed"}
    )
    await user_manager.on_after_update(updated, {"password": REDACTED}, request)
    return updated


async def set_first_password(
    user_manager: BaseUserManager[UP, ID], user: UP, password: str, request: Request | None
) -> UP:
    """Give a user without a password (a passkey or OAuth sign-up) a first one; no current password asked.

    Goes through :meth:`BaseUserManager.update`: the password policy, the ``password_changed``
    event and notice, and the end of the user's sessions, as any password change.

    Raises:
        PasswordAlreadySet: The user has a password (change it with the current one instead).
        InvalidPasswordException: The password policy refused it.
    """
    if has_usable_password(user.hashed_password):
        raise PasswordAlreadySet
    return await user_manager.update(schemas.BaseUserUpdate(password=password), user, safe=True, request=request)


# -- notices and events --------------------------------------------------------------------------


async def emit_passkey_event(
    user_manager: BaseUserManager[Any, Any],
    request: Request | None,
    event: SecurityEventType,
    user_id: Any,
    passkey_id: uuid.UUID,
    name: str,
) -> None:
    """Record a change of one of ``user_id``'s passkeys as a security event."""
    await user_manager.emit_security_event(
        event, request, user_id=user_id, details={"passkey_id": str(passkey_id), "name": name}
    )


async def announce(
    user_manager: BaseUserManager[Any, Any],
    request: Request | None,
    background: BackgroundTasks | None,
    user: Any,
    change: PasskeyChange,
    *,
    passkey_id: uuid.UUID,
    name: str,
) -> None:
    """Record a change of ``user``'s passkeys (a security event) and tell the user by e-mail.

    The notice goes through the manager's ``mailer`` (the ``passkey_changed`` mail), after the
    response when ``background`` is given (a slow mail server must not hold the request); a
    delivery failure is logged by the mailer, never raised. A sign-up's first passkey is not
    announced by mail (the user is there), only recorded.
    """
    await emit_passkey_event(user_manager, request, _EVENTS[change], user.id, passkey_id, name)
    mailer = user_manager.mailer
    if mailer is None:
        return
    text = _CHANGES[change].format(name=name)
    if background is not None:
        background.add_task(mailer.send_passkey_changed, user, text)
    else:
        await mailer.send_passkey_changed(user, text)
