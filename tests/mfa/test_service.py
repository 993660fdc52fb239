"""MFAService on SQLite, PostgreSQL and MariaDB: enrolment, TOTP window and replay, recovery codes, status."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.mfa import (
    InvalidMFACode,
    MFAAlreadyEnabled,
    MFACodeReplayed,
    MFAEnrolmentNotFound,
    MFANotEnabled,
    MFAService,
    SecretBox,
    SecretUnreadable,
    SQLAlchemyMFAStore,
    TOTPRecord,
)
from tests.conftest import SessionMaker
from tests.mfa.conftest import KEY, OLD_KEY, START, Clock, MakeUser, code_at, store_for
from tests.models import RecoveryCode, TOTPFactor

CONCURRENCY = 10


async def _enrolled(service: MFAService, clock: Clock, user_id: uuid.UUID) -> tuple[str, list[str]]:
    """Enrol and confirm TOTP for the user; return the secret and the recovery codes."""
    enrolment = await service.begin_totp(user_id, "arthur@camelot.bt")
    codes = await service.confirm_totp(user_id, code_at(enrolment.secret, clock.now))
    return enrolment.secret, codes


async def test_begin_returns_uri_qr_and_secret_and_stores_only_a_ciphertext(
    service: MFAService, db: SessionMaker, make_user: MakeUser
) -> None:
    """begin_totp returns the secret, its otpauth URI and an SVG; the table holds the secret encrypted."""
    user_id = await make_user()

    enrolment = await service.begin_totp(user_id, "arthur@camelot.bt")

    async with db() as session:
        stored = (await session.execute(select(TOTPFactor.__table__.c.secret))).scalar_one()
    assert len(enrolment.secret) == 32
    assert enrolment.uri.startswith("otpauth://totp/Camelot:arthur%40camelot.bt?secret=" + enrolment.secret)
    assert enrolment.qr_svg.startswith("<svg")
    assert enrolment.secret not in stored
    assert enrolment.secret not in repr(enrolment)
    assert (await service.status(user_id)).enrolment_pending


async def test_confirm_activates_and_returns_ten_recovery_codes(
    service: MFAService, clock: Clock, make_user: MakeUser
) -> None:
    """A right first code activates the factor and returns 10 recovery codes; status shows both methods."""
    user_id = await make_user()

    _, codes = await _enrolled(service, clock, user_id)

    status = await service.status(user_id)
    assert len(codes) == 10
    assert status.enabled
    assert status.methods == ("totp", "recovery_code")
    assert status.recovery_codes_left == 10
    assert not status.enrolment_pending


async def test_confirm_with_a_wrong_code_keeps_the_enrolment_pending(
    service: MFAService, clock: Clock, make_user: MakeUser
) -> None:
    """A wrong confirming code raises InvalidMFACode and activates nothing; the right one then works."""
    user_id = await make_user()
    enrolment = await service.begin_totp(user_id, "arthur@camelot.bt")
    right = code_at(enrolment.secret, clock.now)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    with pytest.raises(InvalidMFACode):
        await service.confirm_totp(user_id, wrong)

    assert not (await service.status(user_id)).enabled
    assert len(await service.confirm_totp(user_id, right)) == 10


async def test_confirm_without_enrolment_after_expiry_or_twice(
    service: MFAService, clock: Clock, make_user: MakeUser
) -> None:
    """No enrolment or one older than its lifetime: MFAEnrolmentNotFound; an active factor: MFAAlreadyEnabled."""
    user_id = await make_user()
    with pytest.raises(MFAEnrolmentNotFound):
        await service.confirm_totp(user_id, "123456")

    enrolment = await service.begin_totp(user_id, "arthur@camelot.bt")
    clock.advance(15 * 60 + 1)
    with pytest.raises(MFAEnrolmentNotFound):
        await service.confirm_totp(user_id, code_at(enrolment.secret, clock.now))

    await _enrolled(service, clock, user_id)
    with pytest.raises(MFAAlreadyEnabled):
        await service.confirm_totp(user_id, "123456")
    with pytest.raises(MFAAlreadyEnabled):
        await service.begin_totp(user_id, "arthur@camelot.bt")


class _ReEnrolsAfterRead(SQLAlchemyMFAStore[TOTPFactor, RecoveryCode]):
    """A real store that begins a new enrolment right after each read, as a concurrent request would."""

    async def get_totp(self, user_id: Any) -> TOTPRecord | None:
        record = await super().get_totp(user_id)
        await self.begin_enrolment(user_id, "a newer enrolment", now=START)
        return record


async def test_confirm_racing_a_new_enrolment_activates_nothing(
    db: SessionMaker, box: SecretBox, clock: Clock, make_user: MakeUser
) -> None:
    """A code of the old secret cannot activate an enrolment begun again between the read and the write."""
    user_id = await make_user()
    plain = MFAService(store_for(db), box, issuer="Camelot", clock=clock)
    enrolment = await plain.begin_totp(user_id, "arthur@camelot.bt")
    racing = MFAService(_ReEnrolsAfterRead(db(), TOTPFactor, RecoveryCode), box, issuer="Camelot", clock=clock)

    with pytest.raises(MFAEnrolmentNotFound):
        await racing.confirm_totp(user_id, code_at(enrolment.secret, clock.now))

    assert not (await plain.status(user_id)).enabled


@pytest.mark.parametrize("offset", [-30, 0, 30])
async def test_codes_of_the_window_verify(service: MFAService, clock: Clock, make_user: MakeUser, offset: int) -> None:
    """The previous, current and next step's codes are accepted as TOTP."""
    user_id = await make_user()
    secret, _ = await _enrolled(service, clock, user_id)
    clock.advance(60)

    assert await service.verify(user_id, code_at(secret, clock.now + timedelta(seconds=offset))) == "totp"


@pytest.mark.parametrize("offset", [-60, 60])
async def test_codes_outside_the_window_are_invalid(
    service: MFAService, clock: Clock, make_user: MakeUser, offset: int
) -> None:
    """Codes two steps away are refused as wrong codes, not as replays."""
    user_id = await make_user()
    secret, _ = await _enrolled(service, clock, user_id)
    clock.advance(120)

    with pytest.raises(InvalidMFACode) as raised:
        await service.verify(user_id, code_at(secret, clock.now + timedelta(seconds=offset)))
    assert type(raised.value) is InvalidMFACode


async def test_a_totp_code_is_valid_once(service: MFAService, clock: Clock, make_user: MakeUser) -> None:
    """The same code twice in its window: the second is MFACodeReplayed (code MFA_CODE_REPLAYED)."""
    user_id = await make_user()
    secret, _ = await _enrolled(service, clock, user_id)
    clock.advance(30)
    code = code_at(secret, clock.now)

    first = await service.verify(user_id, code)
    clock.advance(10)
    with pytest.raises(MFACodeReplayed) as raised:
        await service.verify(user_id, code)

    assert first == "totp"
    assert raised.value.code == "MFA_CODE_REPLAYED"


async def test_an_older_step_after_a_newer_one_is_a_replay(
    service: MFAService, clock: Clock, make_user: MakeUser
) -> None:
    """Once the next step's code was accepted, the current step's code (still in the window) is refused."""
    user_id = await make_user()
    secret, _ = await _enrolled(service, clock, user_id)
    clock.advance(60)

    await service.verify(user_id, code_at(secret, clock.now + timedelta(seconds=30)))
    with pytest.raises(MFACodeReplayed):
        await service.verify(user_id, code_at(secret, clock.now))


async def test_the_confirming_code_cannot_sign_in(service: MFAService, clock: Clock, make_user: MakeUser) -> None:
    """The code that confirmed the enrolment is already spent."""
    user_id = await make_user()
    enrolment = await service.begin_totp(user_id, "arthur@camelot.bt")
    code = code_at(enrolment.secret, clock.now)
    await service.confirm_totp(user_id, code)

    with pytest.raises(MFACodeReplayed):
        await service.verify(user_id, code)


async def test_concurrent_verifications_of_one_code_have_one_winner(
    db: SessionMaker, box: SecretBox, clock: Clock, make_user: MakeUser
) -> None:
    """Ten concurrent verifications of one code, each on its own connection: one succeeds, nine are replays."""
    user_id = await make_user()
    secret, _ = await _enrolled(MFAService(store_for(db), box, issuer="Camelot", clock=clock), clock, user_id)
    clock.advance(30)
    services = [MFAService(store_for(db), box, issuer="Camelot", clock=clock) for _ in range(CONCURRENCY)]
    code = code_at(secret, clock.now)

    results = await asyncio.gather(*(s.verify(user_id, code) for s in services), return_exceptions=True)

    assert results.count("totp") == 1
    assert all(isinstance(result, MFACodeReplayed) for result in results if result != "totp")


async def test_recovery_codes_work_once_as_typed(service: MFAService, clock: Clock, make_user: MakeUser) -> None:
    """A recovery code works once, typed in upper case with spaces; the second use is a wrong code."""
    user_id = await make_user()
    _, codes = await _enrolled(service, clock, user_id)
    typed = f"  {codes[3].upper().replace('-', ' ')} "

    first = await service.verify(user_id, typed)
    with pytest.raises(InvalidMFACode):
        await service.verify(user_id, codes[3])

    assert first == "recovery_code"
    assert (await service.status(user_id)).recovery_codes_left == 9


async def test_recovery_codes_are_stored_only_as_digests(
    service: MFAService, clock: Clock, db: SessionMaker, make_user: MakeUser
) -> None:
    """No recovery code, with or without its dash, appears anywhere in the recovery-code table."""
    user_id = await make_user()
    _, codes = await _enrolled(service, clock, user_id)

    async with db() as session:
        rows = (await session.execute(select(RecoveryCode.__table__))).all()
    dump = " ".join(str(value) for row in rows for value in row).lower()
    assert len(rows) == 10
    for code in codes:
        assert code not in dump
        assert code.replace("-", "") not in dump


async def test_regenerating_invalidates_the_old_codes(service: MFAService, clock: Clock, make_user: MakeUser) -> None:
    """After regeneration, an old code is refused and a new one works; ten codes are left before its use."""
    user_id = await make_user()
    _, old = await _enrolled(service, clock, user_id)

    new = await service.regenerate_recovery_codes(user_id)

    assert not set(old) & set(new)
    assert (await service.status(user_id)).recovery_codes_left == 10
    with pytest.raises(InvalidMFACode):
        await service.verify(user_id, old[0])
    assert await service.verify(user_id, new[0]) == "recovery_code"


async def test_no_codes_left_leaves_only_totp(service: MFAService, clock: Clock, make_user: MakeUser) -> None:
    """With every recovery code used, status lists TOTP alone."""
    user_id = await make_user()
    _, codes = await _enrolled(service, clock, user_id)

    for code in codes:
        await service.verify(user_id, code)

    status = await service.status(user_id)
    assert (status.methods, status.recovery_codes_left) == (("totp",), 0)


@pytest.mark.parametrize("code", ["", "nonsense", "12345", "abcde-fghju"])
async def test_input_that_is_no_code_is_invalid(
    service: MFAService, clock: Clock, make_user: MakeUser, code: str
) -> None:
    """Input that is neither six digits nor a recovery code raises InvalidMFACode."""
    user_id = await make_user()
    await _enrolled(service, clock, user_id)

    with pytest.raises(InvalidMFACode):
        await service.verify(user_id, code)


async def test_users_without_an_active_factor(service: MFAService, make_user: MakeUser) -> None:
    """No factor or a pending one: verify, regenerate and disable raise MFANotEnabled; status is off."""
    user_id = await make_user()

    status = await service.status(user_id)
    with pytest.raises(MFANotEnabled):
        await service.verify(user_id, "123456")
    with pytest.raises(MFANotEnabled):
        await service.regenerate_recovery_codes(user_id)
    with pytest.raises(MFANotEnabled):
        await service.disable(user_id)
    await service.begin_totp(user_id, "arthur@camelot.bt")
    with pytest.raises(MFANotEnabled):
        await service.verify(user_id, "123456")
    with pytest.raises(MFANotEnabled):
        await service.regenerate_recovery_codes(user_id)

    assert (status.enabled, status.methods, status.recovery_codes_left, status.enrolment_pending) == (
        False,
        (),
        0,
        False,
    )


async def test_disable_removes_the_factor_and_codes(service: MFAService, clock: Clock, make_user: MakeUser) -> None:
    """After disable, codes are refused with MFANotEnabled and the user can enrol again."""
    user_id = await make_user()
    secret, codes = await _enrolled(service, clock, user_id)

    await service.disable(user_id)

    with pytest.raises(MFANotEnabled):
        await service.verify(user_id, codes[0])
    assert not (await service.status(user_id)).enabled
    assert (await service.begin_totp(user_id, "arthur@camelot.bt")).secret != secret


async def test_a_ciphertext_moved_to_another_user_is_refused(
    service: MFAService, clock: Clock, db: SessionMaker, make_user: MakeUser
) -> None:
    """Copying one user's encrypted secret into another's row makes it unreadable, not usable."""
    victim, attacker = await make_user(), await make_user()
    secret, _ = await _enrolled(service, clock, victim)
    await _enrolled(service, clock, attacker)
    table = TOTPFactor.__table__
    async with db() as session:
        stolen = (await session.execute(select(table.c.secret).where(table.c.user_id == victim))).scalar_one()
        await session.execute(update(TOTPFactor).where(table.c.user_id == attacker).values(secret=stolen))
        await session.commit()
    clock.advance(30)

    with pytest.raises(SecretUnreadable):
        await service.verify(attacker, code_at(secret, clock.now))


async def test_key_rotation_old_factors_work_and_are_reencrypted_on_use(
    db: SessionMaker, clock: Clock, make_user: MakeUser
) -> None:
    """A factor enrolled under the old key verifies with [new, old] and is then stored under the new key."""
    user_id = await make_user()
    secret, _ = await _enrolled(
        MFAService(store_for(db), SecretBox(OLD_KEY), issuer="Camelot", clock=clock), clock, user_id
    )
    rotated = SecretBox([KEY, OLD_KEY])
    clock.advance(30)

    method = await MFAService(store_for(db), rotated, issuer="Camelot", clock=clock).verify(
        user_id, code_at(secret, clock.now)
    )

    record = await store_for(db).get_totp(user_id)
    assert method == "totp"
    assert record is not None
    assert not rotated.needs_rotation(record.secret)
    assert SecretBox(KEY).decrypt(record.secret, user_id=user_id, purpose="totp") == secret


@pytest.mark.parametrize(
    "options",
    [
        {"issuer": ""},
        {"issuer": "Came:lot"},
        {"window": 2},
        {"window": -1},
        {"recovery_code_count": 9},
        {"enrolment_lifetime": timedelta(0)},
    ],
)
def test_misconfiguration_fails_at_construction(db: SessionMaker, options: dict[str, Any]) -> None:
    """An empty or ':' issuer, a window outside 0..1, fewer than 10 codes or no lifetime: ConfigurationError."""
    arguments: dict[str, Any] = {"issuer": "Camelot", **options}

    with pytest.raises(ConfigurationError):
        MFAService(store_for(db), SecretBox(KEY), **arguments)
