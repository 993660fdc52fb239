"""Sign-in by e-mail (a link and a short code in one e-mail) and the confirmed e-mail change (issue 20).

::

    EmailSignInSettings       off by default; link page, code length, lifetime, attempts, sign-up
    EmailChangeSettings       confirmation and revert pages, their lifetimes
    EMAIL_*_PATH              the account pages' link routes, the default links below ``pages_url``
    EmailSignInService        request (same answer for every address), complete by link or by code
    EmailChangeService        request a change, confirm from the new address, revert from the old one
    EmailAuthMailer           the three e-mails, through the app's AccountMailer and its templates
    EmailSignInStore          storage protocols (atomic conditional writes decide every use) ...
    EmailChangeStore          ... and their SQLAlchemy implementations over the mixins of ``tables``
    RedisEmailSignInStore     pending sign-ins in Redis instead (the ``redis`` extra)
    exceptions                EmailAuthException and its subtree, each with a stable ``code``

Links and codes are stored only as keyed digests (:mod:`fastapi_userkit.email_auth.tokens`).
The e-mails need the ``mail`` extra (``pip install 'fastapi-userkit[mail]'``).

The settings and the mailer are built once; a service is built per request, over the request's
session and user manager, like the user database::

    sign_in_settings = EmailSignInSettings(
        secret=SECRET, link_url="https://app.example.com/email-login?token={token}", enabled=True
    )
    email_mailer = EmailAuthMailer(account_mailer)


    async def get_email_sign_in(
        session: AsyncSession = Depends(get_async_session),
        user_manager: UserManager = Depends(get_user_manager),
    ) -> EmailSignInService[User, uuid.UUID]:
        store = SQLAlchemyEmailSignInStore(session, EmailSignIn)
        return EmailSignInService(store, user_manager, sign_in_settings, email_mailer)

A route then answers ``await service.request(email, defer=background_tasks.add_task)`` with the
same ``202`` for every address, and signs the user returned by ``complete_by_link`` or
``complete_by_code`` in through the backend's sign-in (a second factor first, if the user has one).
"""

from fastapi_userkit.email_auth.change import EmailChangePending, EmailChangeReverted, EmailChangeService
from fastapi_userkit.email_auth.exceptions import (
    EmailAddressTaken,
    EmailAddressUnchanged,
    EmailAuthException,
    EmailCodeAttemptsExhausted,
    EmailCodeInvalid,
    EmailLinkExpired,
    EmailLinkInvalid,
    EmailLinkUsed,
)
from fastapi_userkit.email_auth.mail import EmailAuthKind, EmailAuthMailer
from fastapi_userkit.email_auth.redis import RedisEmailSignInStore
from fastapi_userkit.email_auth.settings import (
    EMAIL_CHANGE_CONFIRM_PATH,
    EMAIL_CHANGE_REVERT_PATH,
    EMAIL_SIGN_IN_PATH,
    EmailChangeSettings,
    EmailSignInSettings,
)
from fastapi_userkit.email_auth.sign_in import Clock, Defer, EmailSignInResult, EmailSignInService
from fastapi_userkit.email_auth.sqlalchemy import SQLAlchemyEmailChangeStore, SQLAlchemyEmailSignInStore
from fastapi_userkit.email_auth.store import EmailChangeRecord, EmailChangeStore, EmailSignInRecord, EmailSignInStore
from fastapi_userkit.email_auth.tables import (
    SQLAlchemyBaseEmailChangeTable,
    SQLAlchemyBaseEmailChangeTableUUID,
    SQLAlchemyBaseEmailSignInTable,
    SQLAlchemyBaseEmailSignInTableUUID,
)

__all__ = [
    "EMAIL_CHANGE_CONFIRM_PATH",
    "EMAIL_CHANGE_REVERT_PATH",
    "EMAIL_SIGN_IN_PATH",
    "Clock",
    "Defer",
    "EmailAddressTaken",
    "EmailAddressUnchanged",
    "EmailAuthException",
    "EmailAuthKind",
    "EmailAuthMailer",
    "EmailChangePending",
    "EmailChangeRecord",
    "EmailChangeReverted",
    "EmailChangeService",
    "EmailChangeSettings",
    "EmailChangeStore",
    "EmailCodeAttemptsExhausted",
    "EmailCodeInvalid",
    "EmailLinkExpired",
    "EmailLinkInvalid",
    "EmailLinkUsed",
    "EmailSignInRecord",
    "EmailSignInResult",
    "EmailSignInService",
    "EmailSignInSettings",
    "EmailSignInStore",
    "RedisEmailSignInStore",
    "SQLAlchemyBaseEmailChangeTable",
    "SQLAlchemyBaseEmailChangeTableUUID",
    "SQLAlchemyBaseEmailSignInTable",
    "SQLAlchemyBaseEmailSignInTableUUID",
    "SQLAlchemyEmailChangeStore",
    "SQLAlchemyEmailSignInStore",
]
