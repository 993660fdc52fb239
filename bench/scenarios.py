"""The scenarios of issues 5 and 23 and the run plans (full, ``--quick``, ``--smoke``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["PLANS", "SCENARIOS", "Plan", "Scenario"]


@dataclass(frozen=True)
class Scenario:
    """One measured load.

    ``kind`` is ``get`` (64 connections, bearer token of ``strategy``), ``login`` or ``register``
    (16 connections, POST bodies from the Lua scripts) or ``storm`` (4 connections of
    ``GET /users/me`` alone, then while 16 connections log in). ``cores`` is how many cores the
    server may use during the run.
    """

    id: str
    title: str
    kind: str
    path: str
    strategy: str = "jwt"
    cores: int = 1

    @property
    def needs_redis(self) -> bool:
        """Whether the scenario uses the Redis strategy."""
        return self.strategy == "redis" and self.kind == "get"


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("bare", "bare endpoint (constant)", "get", "/bench/bare"),
    Scenario("jwt_decode", "endpoint decoding a JWT (PyJWT only)", "get", "/bench/jwt"),
    Scenario("ceiling", "hand-written ceiling (JWT + raw indexed select)", "get", "/bench/ceiling"),
    Scenario(
        "chain_ceiling", "same-chain ceiling (the app's dependencies + JWT + raw select)", "get", "/bench/chain-ceiling"
    ),
    Scenario("me_jwt", "GET /users/me, JWT", "get", "/users/me"),
    Scenario("me_database", "GET /users/me, database token", "get", "/database/users/me", strategy="database"),
    Scenario("me_redis", "GET /users/me, Redis token", "get", "/redis/users/me", strategy="redis"),
    Scenario("storm", "login storm: GET /users/me (4 conns) while 16 conns log in", "storm", "/users/me"),
    Scenario("login", "POST /auth/jwt/login, 1 core", "login", "/auth/jwt/login"),
    Scenario("login_2cores", "POST /auth/jwt/login, 2 cores", "login", "/auth/jwt/login", cores=2),
    Scenario("register", "POST /auth/register, 1 core", "register", "/auth/register"),
    Scenario("register_2cores", "POST /auth/register, 2 cores", "register", "/auth/register", cores=2),
)


@dataclass(frozen=True)
class Plan:
    """Durations, repeats and databases of one run."""

    mode: str
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    scenarios: tuple[str, ...] = tuple(scenario.id for scenario in SCENARIOS)
    # Databases the POST scenarios (login, register, storm) run on; ``None``: all of ``backends``.
    post_backends: tuple[str, ...] | None = None
    get_seconds: int = 3
    get_repeats: int = 3
    post_seconds: int = 6
    post_repeats: int = 1
    storm_quiet_seconds: int = 3
    storm_seconds: int = 8
    warmup_seconds: int = 1
    get_connections: int = 64
    post_connections: int = 16
    storm_connections: int = 4
    seed_users: int = 100
    idle_timeout: float = 60.0
    chart: bool = True
    # Storms per library (issue 23: the median of 3).
    storm_repeats: int = 3
    # The in-process CPU-per-request table (bench.cpu_table): rounds (0: not run) x requests.
    cpu_rounds: int = 5
    cpu_requests: int = 1000
    # The hash cap (bench.hash_cap): seconds of back-to-back hashing per core count.
    hash_cap_seconds: int = 6

    def with_overrides(self, **overrides: object) -> Plan:
        """A copy with the non-``None`` ``overrides`` applied."""
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})  # type: ignore[arg-type]


PLANS = {
    # ~13 minutes on 2 cores once the environments exist.
    "full": Plan("full"),
    # < 2 minutes: the GET scenarios on both databases, login/storm/register on SQLite, once each.
    "quick": Plan(
        "quick",
        scenarios=tuple(scenario.id for scenario in SCENARIOS if scenario.cores == 1),
        post_backends=("sqlite",),
        get_seconds=2,
        get_repeats=1,
        post_seconds=3,
        storm_quiet_seconds=2,
        storm_seconds=4,
        warmup_seconds=0,
        idle_timeout=10.0,
        storm_repeats=1,
        cpu_rounds=3,
        cpu_requests=500,
        hash_cap_seconds=3,
    ),
    # The harness smoke test of ``make test`` (``--smoke``): SQLite only, 1-2 s runs, 1-core scenarios.
    "smoke": Plan(
        "smoke",
        backends=("sqlite",),
        scenarios=tuple(scenario.id for scenario in SCENARIOS if scenario.cores == 1),
        get_seconds=1,
        get_repeats=1,
        post_seconds=2,
        storm_quiet_seconds=1,
        storm_seconds=2,
        warmup_seconds=0,
        # 4 POST connections: what a check needs, and 4x less hashing left to drain after each load.
        post_connections=4,
        seed_users=20,
        idle_timeout=3.0,
        chart=False,
        storm_repeats=1,
        cpu_rounds=1,
        cpu_requests=100,
        hash_cap_seconds=2,
    ),
}
