"""Per-account limits hold across Unicode spellings of one address (issue 16, item 2).

On SQLite, PostgreSQL and MariaDB alike: every spelling that a database may match to an
account shares that account's budget, login finds an account typed in NFD, and registration
refuses look-alike spellings the databases would tell apart differently.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from fastapi_userkit._email_forms import account_skeleton, login_email, lookalike_problem
from fastapi_userkit.security import SQLRateLimitBackend
from fastapi_userkit.security.ratelimit import RateLimitBackend
from tests.app_factory import make_app
from tests.conftest import EngineFactory, reset_schema
from tests.security.test_ratelimit_http import PASSWORD, WRONG, Env, client_for, login, register

VICTIM = "victim@example.com"
# Spellings that some database's lookup matches to VICTIM: U+0130 (PostgreSQL's lower()), and
# zero-width, word-joiner, mathematical, circled and full-width letters (MariaDB's collation).
SPELLINGS = [
    "v\u0130ctim@example.com",
    "vic\u200btim@example.com",
    "v\u200bic\u200btim@example.com",
    "victim\u2060@example.com",
    "\U0001d42fictim@example.com",
    "\u24e5ictim@example.com",
    "\uff56ictim@example.com",
    # Code points MariaDB's collation ignores or weighs as an ASCII letter (an outside review):
    # ARABIC TATWEEL, NEGATIVE CIRCLED LATIN CAPITAL LETTER V, COMBINING LATIN SMALL LETTER C.
    "vic\u0640tim@example.com",
    "\U0001f165ictim@example.com",
    "vi\u0368tim@example.com",
    "VICTIM@example.com",
    " victim@example.com ",
]


@pytest.fixture
async def env(any_backend: str, engine_for: EngineFactory) -> AsyncIterator[Env]:
    """The test app on each database, counters in the same database."""
    from tests.models import Base

    engine = await engine_for(any_backend)
    await reset_schema(engine, Base.metadata)
    backends: list[SQLRateLimitBackend] = []

    def new_sql() -> RateLimitBackend:
        backends.append(SQLRateLimitBackend())
        return backends[-1]

    yield Env(async_sessionmaker(engine, expire_on_commit=False), new_sql)
    for backend in backends:
        await backend.aclose()


async def test_a_locked_account_is_locked_in_every_spelling(env: Env) -> None:
    """After five failures, the right password in any look-alike spelling of the address gets 429."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, VICTIM)

    async with client_for(app) as client:
        for _ in range(5):
            assert (await login(client, WRONG, VICTIM)).status_code == 400
        answers = {spelling: (await login(client, PASSWORD, spelling)).status_code for spelling in SPELLINGS}

    assert answers == dict.fromkeys(SPELLINGS, 429)


async def test_failures_in_different_spellings_share_one_budget(env: Env) -> None:
    """Five failures, each in another spelling, start the delay of the account itself."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, VICTIM)

    async with client_for(app) as client:
        failures = [(await login(client, WRONG, spelling)).status_code for spelling in SPELLINGS[:5]]
        response = await login(client, PASSWORD, VICTIM)

    assert failures == [400] * 5
    assert response.status_code == 429


async def test_forgot_password_limit_holds_across_spellings(env: Env) -> None:
    """Forgot-password's 5 requests per address per minute count every spelling of the address."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, VICTIM)
    spellings = [VICTIM, "v\u0130ctim@example.com", "\U0001d42fictim@example.com", "\u24e5ictim@example.com"]
    spellings += ["\uff56ictim@example.com", "Victim@example.com", "vic\u0640tim@example.com"]
    spellings += ["\U0001f165ictim@example.com", "vi\u0368tim@example.com", "\u24e5ic\u0640tim@example.com"]

    async with client_for(app) as client:
        statuses = [
            (await client.post("/auth/forgot-password", json={"email": spelling})).status_code for spelling in spellings
        ]

    assert statuses == [202] * 5 + [429] * 5


async def test_a_locked_account_with_a_digit_is_locked_in_other_digits(env: Env) -> None:
    """After the lockout of user1@, the right password typed with an Arabic-Indic or Devanagari one gets 429."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, "user1@example.com")

    async with client_for(app) as client:
        for _ in range(5):
            assert (await login(client, WRONG, "user1@example.com")).status_code == 400
        answers = [(await login(client, PASSWORD, f"user{digit}@example.com")).status_code for digit in "\u0661\u0967"]

    assert answers == [429, 429]


async def test_login_finds_an_account_typed_in_nfd(env: Env) -> None:
    """An address registered in NFC logs in when typed in NFD (combining accent), as registration normalises."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, "jos\u00e9@example.com")

    async with client_for(app) as client:
        response = await login(client, PASSWORD, "jose\u0301@example.com")

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "spelling",
    [
        "al\u0130ce@example.com",
        "\u24e5ictim@example.com",
        "\U0001d42fictim@example.com",
        "stra\u00dfe@example.com",
        "vic\u0640tim@example.com",
        "\U0001f165ictim@example.com",
        "vi\u0368tim@example.com",
        "user\u0661@example.com",
        "vic\u0591tim@example.com",
    ],
)
async def test_registration_refuses_lookalike_spellings(env: Env, spelling: str) -> None:
    """Addresses the databases would match to accounts differently are refused (422) on every database."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, "alice@example.com")

    async with client_for(app) as client:
        response = await client.post("/auth/register", json={"email": spelling, "password": PASSWORD})

    assert response.status_code == 422, response.text
    assert "e-mail address contains" in response.text


async def test_registration_of_another_case_is_taken_on_every_database(env: Env) -> None:
    """An address differing from an account's only in ASCII case is already taken (400)."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, "alice@example.com")

    async with client_for(app) as client:
        response = await client.post("/auth/register", json={"email": "ALICE@Example.com", "password": PASSWORD})

    assert response.status_code == 400
    assert response.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"}


async def test_an_accented_address_is_another_account_on_every_database(env: Env) -> None:
    """jose@ and jos\u00e9@ register as two accounts everywhere (MariaDB's collation is accent-sensitive)."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, "jose@example.com")

    async with client_for(app) as client:
        response = await client.post("/auth/register", json={"email": "jos\u00e9@example.com", "password": PASSWORD})

    assert response.status_code == 201, response.text


async def test_an_email_change_to_a_lookalike_is_refused(env: Env) -> None:
    """PATCH /users/me refuses (422) an address MariaDB would weigh as another (U+0640) on every database."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, "alice@example.com")

    async with client_for(app) as client:
        token = (await login(client, PASSWORD, "alice@example.com")).json()["access_token"]
        response = await client.patch(
            "/users/me", json={"email": "vic\u0640tim@example.com"}, headers={"Authorization": f"Bearer {token}"}
        )

    assert response.status_code == 422, response.text
    assert "e-mail address contains" in response.text


def test_skeleton_merges_every_lookalike() -> None:
    """Every spelling above has the skeleton of the plain address; accents and NFD fold too."""
    assert {account_skeleton(spelling) for spelling in SPELLINGS} == {VICTIM}
    assert account_skeleton("jos\u00e9@example.com") == account_skeleton("JOSE\u0301@example.com") == "jose@example.com"
    assert account_skeleton("\u0131\u115f@x") == "i@x"
    # The general rules, for servers whose tables differ: a character named after a Latin letter
    # (U+1F12A, outside this server's table), a reserved default-ignorable (U+E0FFF).
    assert account_skeleton("u\u0967\U0001f12a\U000e0fff@x") == "u1s@x"
    # A compatibility character whose decomposition holds a code point MariaDB ignores (U+0640).
    assert account_skeleton("a\ufe71b@x") == "ab@x"


def test_lookalike_rule_accepts_lower_case_and_accents() -> None:
    """ASCII in any case, accented and lower-case non-ASCII letters register; the rest is explained."""
    assert lookalike_problem("Jos\u00e9@b\u00fccher.de") is None
    assert lookalike_problem("\u0434\u0438\u043c\u0430@example.ru") is None
    assert lookalike_problem("\u0414\u0438\u043c\u0430@example.ru") is not None
    assert lookalike_problem("\uff56ictim@example.com") is not None
    assert lookalike_problem("user\u0661@example.com") is not None


def test_login_email_normalises_like_registration() -> None:
    """A valid address gets email-validator's form; anything else is looked up in NFC."""
    assert login_email("jose\u0301@EXAMPLE.com") == "jos\u00e9@example.com"
    assert login_email("not an address e\u0301") == "not an address \u00e9"


async def test_a_success_in_a_shared_budget_does_not_erase_anothers_failures(env: Env) -> None:
    """Logging in as \u00e0lice@ between guesses on alice@ (one skeleton) does not reset alice@'s failures."""
    app = make_app(env.session_maker, security=env.settings())
    await register(app, "alice@example.com")
    await register(app, "\u00e0lice@example.com")

    async with client_for(app) as client:
        guesses: list[int] = []
        for _ in range(3):
            guesses += [(await login(client, WRONG, "alice@example.com")).status_code for _ in range(4)]
            await login(client, PASSWORD, "\u00e0lice@example.com")

    assert guesses[:5] == [400] * 5
    assert set(guesses[5:]) == {429}
