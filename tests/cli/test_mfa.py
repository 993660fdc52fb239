"""``userkit mfa reset EMAIL`` (issue 18, item 6), on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from fastapi_userkit.mfa import SecretBox
from tests.cli.conftest import CLI
from tests.conftest import SessionMaker
from tests.models import RecoveryCode, TOTPFactor, User

EMAIL = "percival@camelot.bt"


async def _user_with_factor(session_maker: SessionMaker) -> uuid.UUID:
    async with session_maker() as session:
        user = User(email=EMAIL, hashed_password="x")
        session.add(user)
        await session.flush()
        now = datetime.now(UTC)
        secret = SecretBox("k" * 32).encrypt("JBSWY3DPEHPK3PXP", user_id=user.id, purpose="totp")
        session.add(TOTPFactor(user_id=user.id, secret=secret, created_at=now, confirmed_at=now, last_step=None))
        session.add(RecoveryCode(user_id=user.id, digest="d" * 43, created_at=now))
        await session.commit()
        return user.id


async def _factor_rows(session_maker: SessionMaker) -> int:
    async with session_maker() as session:
        totp = (await session.execute(select(func.count()).select_from(TOTPFactor))).scalar_one()
        codes = (await session.execute(select(func.count()).select_from(RecoveryCode))).scalar_one()
        return int(totp) + int(codes)


def test_mfa_reset_removes_the_factor_and_codes(cli: CLI) -> None:
    """The factor and its recovery codes are deleted; a second reset says there was nothing."""
    cli.query(_user_with_factor)
    result = cli("mfa", "reset", EMAIL, "--yes")
    assert result.exit_code == 0, result.output
    assert "Removed the second factors of percival@camelot.bt." in result.output
    assert cli.query(_factor_rows) == 0
    again = cli("mfa", "reset", EMAIL, "--yes")
    assert again.exit_code == 0
    assert "had no second factor" in again.output


def test_mfa_reset_asks_for_confirmation(cli: CLI) -> None:
    """Without --yes the command asks; answering no removes nothing."""
    cli.query(_user_with_factor)
    result = cli("mfa", "reset", EMAIL, input="n\n")
    assert result.exit_code != 0
    assert cli.query(_factor_rows) == 2


def test_mfa_reset_of_an_unknown_user_fails(cli: CLI) -> None:
    """An unknown address is a one-line error and a non-zero exit code."""
    result = cli("mfa", "reset", "nobody@camelot.bt", "--yes")
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_mfa_reset_needs_the_tables(cli: CLI) -> None:
    """A config whose metadata has no two-factor tables is told so."""
    result = cli("mfa", "reset", EMAIL, "--yes", app_spec="tests.cli.cliapp:ghost")
    assert result.exit_code != 0
    assert "no mfa_totp table" in result.output
