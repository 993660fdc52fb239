"""The errors of e-mail sign-in and e-mail change, a subtree of the library's exception tree.

::

    FastAPIUsersException                  the library's root (``message``, ``code``)
    └── EmailAuthException                 any e-mail sign-in or e-mail change error
        ├── EmailLinkInvalid               no such link, or it no longer matches its account
        ├── EmailLinkExpired               the link or code is past its lifetime
        ├── EmailLinkUsed                  the link (or its code) was already used, or superseded
        ├── EmailCodeInvalid               the code is wrong, or no sign-in waits for the address
        ├── EmailCodeAttemptsExhausted     the pending sign-in took its last allowed code
        ├── EmailAddressTaken              the address belongs to another account
        └── EmailAddressUnchanged          an e-mail change to the account's current address

Routers map them to HTTP through the library's one error table; the ``code`` values are stable.
"""

from __future__ import annotations

from fastapi_userkit.exceptions import FastAPIUsersException

__all__ = [
    "EmailAddressTaken",
    "EmailAddressUnchanged",
    "EmailAuthException",
    "EmailCodeAttemptsExhausted",
    "EmailCodeInvalid",
    "EmailLinkExpired",
    "EmailLinkInvalid",
    "EmailLinkUsed",
]


class EmailAuthException(FastAPIUsersException):
    """Root of the e-mail sign-in and e-mail change errors."""

    default_message = "E-mail sign-in error."
    code = "EMAIL_AUTH_ERROR"


class EmailLinkInvalid(EmailAuthException):
    """The link matches nothing, or its account changed address, was deactivated or deleted since."""

    default_message = "The link is not valid."
    code = "EMAIL_LINK_INVALID"


class EmailLinkExpired(EmailAuthException):
    """The link (or the sign-in code sent with it) is older than its lifetime."""

    default_message = "The link or code has expired; ask for a new one."
    code = "EMAIL_LINK_EXPIRED"


class EmailLinkUsed(EmailAuthException):
    """The link, or the code sent with it, was already used; or a newer one replaced it.

    One use of either half of a sign-in e-mail (the link or the code) ends both.
    """

    default_message = "The link or code was already used."
    code = "EMAIL_LINK_USED"


class EmailCodeInvalid(EmailAuthException):
    """The code is wrong, or no sign-in waits for this address (the two are one error: no enumeration)."""

    default_message = "The code is not valid."
    code = "EMAIL_CODE_INVALID"


class EmailCodeAttemptsExhausted(EmailAuthException):
    """The pending sign-in accepted its last wrong code; only a new e-mail helps."""

    default_message = "Too many wrong codes; ask for a new e-mail."
    code = "EMAIL_CODE_ATTEMPTS_EXHAUSTED"


class EmailAddressTaken(EmailAuthException):
    """The address belongs to another account.

    Told only to whoever holds a link sent to that address (e-mail change, sign-up): a request
    for a taken address is answered like one for a free address (ASVS 5.0 6.3.8).
    """

    default_message = "This e-mail address belongs to another account."
    code = "EMAIL_ADDRESS_TAKEN"


class EmailAddressUnchanged(EmailAuthException):
    """The new address of an e-mail change is the account's current address."""

    default_message = "This is already the account's e-mail address."
    code = "EMAIL_CHANGE_SAME_ADDRESS"
