"""Two-factor login for an application: one settings object, given to ``FastAPIUsers(mfa=...)``.

Without it nothing changes: no route, no challenge, FastAPI Users' answers byte for byte. With
it, the login of every backend asks a user with an active factor for a second step (issue 18).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from pydantic import SecretStr

from fastapi_userkit._services.sign_in import SecondStep
from fastapi_userkit.db._types import now_utc
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mfa import recovery
from fastapi_userkit.mfa.challenge import ChallengeStore
from fastapi_userkit.mfa.factor import TOTPSecondFactor
from fastapi_userkit.mfa.secretbox import SecretBox
from fastapi_userkit.mfa.service import Clock, MFAService, check_options
from fastapi_userkit.mfa.store import MFAStore
from fastapi_userkit.types import DependencyCallable

__all__ = ["MAX_CHALLENGE_ATTEMPTS", "MAX_CHALLENGE_LIFETIME", "MFA"]

MAX_CHALLENGE_LIFETIME = 300
"""Seconds; issue 18 bounds a login challenge to five minutes."""

MAX_CHALLENGE_ATTEMPTS = 5
"""Codes tried against one challenge before it is dead (the account's login limit applies as well)."""


@dataclass(frozen=True)
class MFA:
    """The two-factor settings of an application.

    Attributes:
        secrets: Keys of the :class:`~fastapi_userkit.mfa.SecretBox` (each at least 32 bytes;
            the first encrypts, all decrypt: list a new one first to rotate).
        get_store: A dependency giving the request's :class:`~fastapi_userkit.mfa.MFAStore`
            (e.g. ``SQLAlchemyMFAStore(session, TOTPFactor, RecoveryCode)``).
        get_challenge_store: A dependency giving the request's
            :class:`~fastapi_userkit.mfa.challenge.ChallengeStore` (SQL or Redis).
        issuer: The name authenticator apps show next to the account (no ``:``).
        challenge_lifetime: Seconds a login challenge can be answered (1 to 300).
        challenge_attempts: Codes one challenge accepts before it dies (1 to 5).
        window: TOTP steps accepted either side of the current one (0 or 1).
        recovery_code_count: Recovery codes issued at a time (at least 10, T42).
        enrolment_lifetime: Seconds a begun enrolment can be confirmed.
        step_up_within: How recent, in seconds, the two-factor sign-in of a user with a factor
            must be to change factors, recovery codes, e-mail or password (T43).
        clock: The current time (tests inject one).

    Raises:
        ConfigurationError: A short or missing secret, an issuer with ``:``, a lifetime, attempt count or
            step-up age out of range, a window other than 0 or 1, fewer than 10 codes.

    Example::

        mfa = MFA(secrets=[settings.mfa_key], get_store=get_mfa_store,
                  get_challenge_store=get_challenge_store, issuer="Camelot")
        fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [backend], mfa=mfa)
    """

    secrets: str | SecretStr | Sequence[str | SecretStr] = field(repr=False)
    get_store: DependencyCallable[MFAStore]
    get_challenge_store: DependencyCallable[ChallengeStore]
    issuer: str
    challenge_lifetime: int = MAX_CHALLENGE_LIFETIME
    challenge_attempts: int = MAX_CHALLENGE_ATTEMPTS
    window: int = 1
    recovery_code_count: int = recovery.DEFAULT_COUNT
    enrolment_lifetime: int = 900
    step_up_within: int = 300
    clock: Clock = now_utc
    box: SecretBox = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.challenge_lifetime <= MAX_CHALLENGE_LIFETIME:
            raise ConfigurationError(f"MFA.challenge_lifetime must be 1 to {MAX_CHALLENGE_LIFETIME} seconds.")
        if not 0 < self.challenge_attempts <= MAX_CHALLENGE_ATTEMPTS:
            raise ConfigurationError(f"MFA.challenge_attempts must be 1 to {MAX_CHALLENGE_ATTEMPTS}.")
        if self.step_up_within <= 0:
            raise ConfigurationError("MFA.step_up_within must be a positive number of seconds.")
        object.__setattr__(self, "box", SecretBox(self.secrets))
        # The checks the service makes per request, made once here: a mistake fails at start-up.
        check_options(
            issuer=self.issuer,
            window=self.window,
            recovery_code_count=self.recovery_code_count,
            enrolment_lifetime=timedelta(seconds=self.enrolment_lifetime),
        )

    def service(self, store: MFAStore) -> MFAService:
        """The second-factor service of one request, over ``store``.

        Raises:
            ConfigurationError: See :class:`~fastapi_userkit.mfa.MFAService`.
        """
        return MFAService(
            store,
            self.box,
            issuer=self.issuer,
            clock=self.clock,
            window=self.window,
            recovery_code_count=self.recovery_code_count,
            enrolment_lifetime=timedelta(seconds=self.enrolment_lifetime),
        )

    def service_dependency(self) -> DependencyCallable[MFAService]:
        """A FastAPI dependency giving the request's :class:`~fastapi_userkit.mfa.MFAService`."""
        get_store = self.get_store

        async def get_mfa_service(store: Annotated[MFAStore, Depends(get_store)]) -> MFAService:
            return self.service(store)

        return get_mfa_service

    def second_step_dependency(self) -> DependencyCallable[SecondStep]:
        """A FastAPI dependency giving what a login needs for its second step."""
        get_store, get_challenges = self.get_store, self.get_challenge_store

        async def get_second_step(
            store: Annotated[MFAStore, Depends(get_store)],
            challenges: Annotated[ChallengeStore, Depends(get_challenges)],
        ) -> SecondStep:
            return SecondStep(
                TOTPSecondFactor(self.service(store)),
                challenges,
                clock=self.clock,
                lifetime=timedelta(seconds=self.challenge_lifetime),
                max_attempts=self.challenge_attempts,
            )

        return get_second_step
