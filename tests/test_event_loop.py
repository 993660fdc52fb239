"""Password hashing never blocks the event loop (DESIGN.md deliberate difference 2, contract 4.7).

FastAPI Users hashes inside ``async def``: five concurrent logins stall the whole server for
their total hashing time. Here, with the default Argon2id parameters (t=3, m=64 MiB, p=4), eight
concurrent logins leave the loop free: a 5 ms ticker never waits as long as one hash, and a cheap
request made meanwhile is answered at once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.ext.asyncio import async_sessionmaker

from fastapi_userkit.db import SQLAlchemyUserDatabase
from fastapi_userkit.password import PasswordHelper
from tests.app_factory import HookLog, make_user_manager_class
from tests.conftest import EngineFactory, SessionMaker, reset_schema
from tests.models import Base, User

PASSWORD = "grail-quest-1191"
LOGINS = 8
TICK = 0.005


@dataclass
class Ticker:
    """Sleeps TICK in a loop and records the longest time the loop made it wait beyond that."""

    max_gap: float = 0.0
    running: bool = True

    async def run(self) -> None:
        """Tick until stopped."""
        while self.running:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            self.max_gap = max(self.max_gap, time.perf_counter() - before - TICK)


async def prepared_database(engine_for: EngineFactory, hashed_password: str) -> tuple[SessionMaker, list[uuid.UUID]]:
    """A SQLite database with LOGINS users sharing one password hash."""
    engine = await engine_for("sqlite")
    await reset_schema(engine, Base.metadata)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)
    async with session_maker() as session:
        user_db = SQLAlchemyUserDatabase[User, uuid.UUID](session, User)
        ids = [
            (await user_db.create({"email": f"knight{n}@camelot.bt", "hashed_password": hashed_password})).id
            for n in range(LOGINS)
        ]
    return session_maker, ids


async def login(session_maker: SessionMaker, email: str) -> User | None:
    """authenticate() with the default PasswordHelper, in a session of its own (as a request has)."""
    async with session_maker() as session:
        manager = make_user_manager_class(HookLog())(SQLAlchemyUserDatabase(session, User), PasswordHelper())
        return await manager.authenticate(OAuth2PasswordRequestForm(username=email, password=PASSWORD))


async def test_concurrent_logins_never_block_the_event_loop(engine_for: EngineFactory) -> None:
    """While 8 default-cost logins hash, the loop never stalls for one hash and a cheap lookup is answered at once."""
    helper = PasswordHelper()
    started = time.perf_counter()
    hashed = helper.hash(PASSWORD)  # measured on purpose on this thread: the cost of one hash
    one_hash = time.perf_counter() - started
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    session_maker, ids = await prepared_database(engine_for, hashed)
    ticker = Ticker()
    ticking = asyncio.create_task(ticker.run())

    logins = [asyncio.create_task(login(session_maker, f"knight{n}@camelot.bt")) for n in range(LOGINS)]
    await asyncio.sleep(TICK)  # let every login reach its worker thread
    asked = time.perf_counter()
    async with session_maker() as session:
        found = await SQLAlchemyUserDatabase[User, uuid.UUID](session, User).get(ids[0])
    latency = time.perf_counter() - asked
    logins_done_meanwhile = sum(task.done() for task in logins)
    results = await asyncio.gather(*logins)
    ticker.running = False
    await ticking

    assert all(user is not None for user in results)
    assert ticker.max_gap < one_hash, f"loop blocked {ticker.max_gap:.3f}s; one hash takes {one_hash:.3f}s"
    assert found is not None
    assert logins_done_meanwhile < LOGINS
    assert latency < one_hash, f"cheap lookup took {latency:.3f}s; one hash takes {one_hash:.3f}s"
