"""The user commands of ``userkit``, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import func, select

from fastapi_userkit.db import now_utc
from tests.app_factory import fast_password_helper
from tests.cli.conftest import CLI
from tests.conftest import SessionMaker
from tests.models import AccessToken, User

PASSWORD = "correct-horse-battery-staple-42"
NEW_PASSWORD = "a-new-and-long-passphrase-99"


async def _user(session_maker: SessionMaker, email: str) -> User | None:
    async with session_maker() as session:
        statement = select(User).where(cast(Any, User).email == email)
        return (await session.execute(statement)).unique().scalar_one_or_none()


def _password_matches(user: User | None, password: str) -> bool:
    assert user is not None
    verified, _ = fast_password_helper().verify_and_update(password, user.hashed_password)
    return verified


def test_create_superuser_from_stdin(cli: CLI) -> None:
    """create-user --superuser --password-stdin creates an active superuser with a hashed password."""
    result = cli("create-user", "--email", "admin@camelot.bt", "--superuser", "--password-stdin", input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert "Created superuser admin@camelot.bt" in result.stdout
    assert PASSWORD not in result.output
    user = cli.query(lambda sm: _user(sm, "admin@camelot.bt"))
    assert user is not None
    assert (user.is_superuser, user.is_active, user.is_verified) == (True, True, False)
    assert user.hashed_password.startswith("$argon2id$")
    assert _password_matches(user, PASSWORD)


def test_create_user_prompts_twice_without_echo(cli: CLI) -> None:
    """Without --password-stdin the password is prompted twice and never shown."""
    result = cli("create-user", "--email", "lancelot@camelot.bt", "--verified", input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    assert "Repeat for confirmation:" in result.output
    assert PASSWORD not in result.output
    user = cli.query(lambda sm: _user(sm, "lancelot@camelot.bt"))
    assert user is not None
    assert user.is_verified
    assert not user.is_superuser


def test_create_user_with_a_taken_address_fails_cleanly(cli: CLI) -> None:
    """A taken address (in another case) exits 1 with one line and no traceback."""
    cli("create-user", "--email", "gawain@camelot.bt", "--password-stdin", input=PASSWORD)

    result = cli("create-user", "--email", "Gawain@Camelot.bt", "--password-stdin", input=PASSWORD)

    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: A user with this e-mail address already exists."
    assert "Traceback" not in result.output


def test_create_user_applies_the_password_policy(cli: CLI) -> None:
    """A password the manager's policy refuses exits 1 with the reason, and no user is created."""
    result = cli("create-user", "--email", "bors@camelot.bt", "--password-stdin", input="short")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Password refused")
    assert cli.query(lambda sm: _user(sm, "bors@camelot.bt")) is None


def test_create_user_with_a_malformed_address_names_the_field_not_the_password(cli: CLI) -> None:
    """An invalid e-mail exits 1 naming the field; the password never appears."""
    result = cli("create-user", "--email", "not-an-address", "--password-stdin", input=PASSWORD)

    assert result.exit_code == 1
    assert "Invalid value: email" in result.stderr
    assert PASSWORD not in result.output


def test_set_password_replaces_the_hash(cli: CLI) -> None:
    """set-password makes the new password work and the old one fail."""
    cli("create-user", "--email", "percival@camelot.bt", "--password-stdin", input=PASSWORD)

    result = cli("set-password", "percival@camelot.bt", "--password-stdin", input=NEW_PASSWORD)

    assert result.exit_code == 0, result.output
    user = cli.query(lambda sm: _user(sm, "percival@camelot.bt"))
    assert _password_matches(user, NEW_PASSWORD)
    assert not _password_matches(user, PASSWORD)


def test_commands_on_an_unknown_user_fail_cleanly(cli: CLI) -> None:
    """set-password, deactivate and activate on an unknown address exit 1 with one line."""
    results = [
        cli("set-password", "nobody@camelot.bt", "--password-stdin", input=NEW_PASSWORD),
        cli("deactivate", "nobody@camelot.bt"),
        cli("activate", "nobody@camelot.bt"),
    ]

    assert [r.exit_code for r in results] == [1, 1, 1]
    assert all(r.stderr.strip() == "Error: No user has this e-mail address." for r in results)


def test_deactivate_then_activate(cli: CLI) -> None:
    """deactivate clears is_active (case-insensitive lookup); activate sets it again."""
    cli("create-user", "--email", "kay@camelot.bt", "--password-stdin", input=PASSWORD)

    deactivated = cli("deactivate", "KAY@camelot.bt")
    after_deactivate = cli.query(lambda sm: _user(sm, "kay@camelot.bt"))
    activated = cli("activate", "kay@camelot.bt")
    after_activate = cli.query(lambda sm: _user(sm, "kay@camelot.bt"))

    assert (deactivated.exit_code, activated.exit_code) == (0, 0)
    assert after_deactivate is not None
    assert after_activate is not None
    assert (after_deactivate.is_active, after_activate.is_active) == (False, True)


def test_list_users_pages_and_searches(cli: CLI) -> None:
    """list-users shows a page ordered by e-mail with the page count; --search filters."""
    for name in ("tristan", "arthur", "galahad"):
        cli("create-user", "--email", f"{name}@camelot.bt", "--password-stdin", input=PASSWORD)

    first = cli("list-users", "--page-size", "2")
    second = cli("list-users", "--page-size", "2", "--page", "2")
    searched = cli("list-users", "--search", "GALA")

    assert first.exit_code == 0, first.output
    assert first.stdout.index("arthur@") < first.stdout.index("galahad@")
    assert "tristan@" not in first.stdout
    assert "Page 1 of 2 (3 users)" in first.stdout
    assert "tristan@camelot.bt" in second.stdout
    assert "Page 2 of 2 (3 users)" in second.stdout
    assert "galahad@camelot.bt" in searched.stdout
    assert "(1 users)" in searched.stdout


def test_purge_tokens_deletes_only_expired_tokens(cli: CLI) -> None:
    """purge-tokens deletes the tokens older than the lifetime and keeps the others."""
    cli("create-user", "--email", "mordred@camelot.bt", "--password-stdin", input=PASSWORD)

    async def add_tokens(session_maker: SessionMaker) -> None:
        user = await _user(session_maker, "mordred@camelot.bt")
        assert user is not None
        async with session_maker() as session:
            session.add(AccessToken(token="old", user_id=user.id, created_at=now_utc() - timedelta(hours=2)))
            session.add(AccessToken(token="new", user_id=user.id, created_at=now_utc()))
            await session.commit()

    async def remaining(session_maker: SessionMaker) -> list[str]:
        async with session_maker() as session:
            return list((await session.execute(select(cast(Any, AccessToken).token))).scalars())

    cli.query(add_tokens)

    result = cli("purge-tokens", "--lifetime-seconds", "3600")

    assert result.exit_code == 0, result.output
    assert "Deleted 1 expired tokens." in result.stdout
    assert cli.query(remaining) == ["new"]


def test_purge_tokens_without_a_token_model_is_a_clear_error(cli: CLI) -> None:
    """A config without access_token_model makes purge-tokens exit 1 with the reason."""
    result = cli("purge-tokens", "--lifetime-seconds", "60", app_spec="tests.cli.cliapp:minimal")

    assert result.exit_code == 1
    assert "access_token_model" in result.stderr


def test_minimal_config_uses_a_plain_manager(cli: CLI) -> None:
    """With only a session maker and the model, the CLI's own manager creates and hashes users."""
    result = cli(
        "create-user",
        "--email",
        "dagonet@camelot.bt",
        "--password-stdin",
        input=PASSWORD,
        app_spec="tests.cli.cliapp:minimal",
    )

    assert result.exit_code == 0, result.output
    assert _password_matches(cli.query(lambda sm: _user(sm, "dagonet@camelot.bt")), PASSWORD)


def test_import_users_from_csv(cli: CLI, tmp_path: object) -> None:
    """import-users creates users from passwords and from hashes, reports bad rows and exits 1."""
    bcrypt_hash = fast_password_helper().password_hash.hashers[1].hash("imported-passphrase-77")
    csv_text = (
        "email,password,hashed_password,is_superuser\n"
        f"ywain@camelot.bt,{PASSWORD},,false\n"
        f"elaine@camelot.bt,,{bcrypt_hash},yes\n"
        f"not-an-address,{PASSWORD},,\n"
        f"YWAIN@camelot.bt,{PASSWORD},,\n"
        "bedivere@camelot.bt,short,,\n"
    )

    result = cli("import-users", "-", input=csv_text)

    assert result.exit_code == 1
    assert "Created 2 users, skipped 0, refused 3." in result.stdout
    assert "line 4: Invalid value: email" in result.stderr
    assert "line 5: A user with this e-mail address already exists." in result.stderr
    assert "line 6: Password refused" in result.stderr
    assert PASSWORD not in result.output
    elaine = cli.query(lambda sm: _user(sm, "elaine@camelot.bt"))
    assert elaine is not None
    assert elaine.is_superuser
    assert _password_matches(elaine, "imported-passphrase-77")


def test_import_users_skip_existing_reports_no_error(cli: CLI) -> None:
    """With --skip-existing a present address is counted as skipped and the exit code is 0."""
    cli("create-user", "--email", "ywain@camelot.bt", "--password-stdin", input=PASSWORD)
    csv_text = f"email,password\nywain@camelot.bt,{PASSWORD}\nlamorak@camelot.bt,{PASSWORD}\n"

    result = cli("import-users", "-", "--skip-existing", input=csv_text)

    assert result.exit_code == 0, result.output
    assert "Created 1 users, skipped 1, refused 0." in result.stdout

    async def count(session_maker: SessionMaker) -> int:
        async with session_maker() as session:
            return int((await session.execute(select(func.count()).select_from(User))).scalar_one())

    assert cli.query(count) == 2
