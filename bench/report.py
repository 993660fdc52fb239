"""Turns the harness's results into ratios, target checks, a markdown report and the JSON document."""

from __future__ import annotations

from typing import Any

__all__ = ["add_ratios", "cpu_ms", "gate_misses", "markdown", "targets"]

FU = "fastapi-users"
UK = "fastapi-userkit"
_BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _ratio(new: float, old: float) -> float | None:
    return round(new / old, 2) if old else None


def add_ratios(results: dict[str, Any]) -> None:
    """Add ``ratio`` (userkit / FastAPI Users) to every scenario record, in place."""
    for outcome in results.values():
        for record in outcome["scenarios"].values():
            old, new = record[FU]["median"], record[UK]["median"]
            if record["kind"] == "storm":
                record["ratio"] = {
                    "storm_p99": _ratio(new["storm_p99_ms"], old["storm_p99_ms"]),
                    "p99_factor": _ratio(new["p99_factor"], old["p99_factor"]),
                    "login_rps": _ratio(new["logins"]["rps"], old["logins"]["rps"]),
                }
            else:
                record["ratio"] = {
                    "rps": _ratio(new["rps"], old["rps"]),
                    "p50": _ratio(new["p50_ms"], old["p50_ms"]),
                    "p99": _ratio(new["p99_ms"], old["p99_ms"]),
                }
        rss = outcome["peak_rss_mb"]
        outcome["peak_rss_ratio"] = _ratio(rss[UK], rss[FU])


def _target(
    name: str, backend: str, value: float | None, goal: str, ok: bool | None, *, gate: bool = True
) -> dict[str, Any]:
    return {"target": name, "backend": backend, "value": value, "goal": goal, "ok": ok, "gate": gate}


def cpu_ms(outcome: dict[str, Any], key: str, library: str) -> float | None:
    """The median CPU ms per request of ``key`` for ``library`` in ``outcome``'s CPU table, if measured."""
    found = (outcome.get("cpu") or {}).get("keys", {}).get(key, {}).get(library)
    return None if found is None else float(found["median"])


def _cpu_ratio(new: float | None, old: float | None) -> float | None:
    return None if new is None or not old else round(new / old, 3)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Check the measured figures against the targets of issue 23 (``gate``: what ``--check`` holds)."""
    checks: list[dict[str, Any]] = []
    for backend, outcome in results.items():
        scenarios = outcome["scenarios"]

        def ratio(scenario: str, key: str, *, scenarios: dict[str, Any] = scenarios) -> float | None:
            record = scenarios.get(scenario)
            return None if record is None else record["ratio"].get(key)

        def uk(scenario: str, key: str, *, scenarios: dict[str, Any] = scenarios) -> float | None:
            record = scenarios.get(scenario)
            return None if record is None else record[UK]["median"].get(key)

        def check(
            name: str,
            value: float | None,
            goal: float,
            *,
            most: bool = False,
            gate: bool = True,
            backend: str = backend,
        ) -> None:
            ok = None if value is None else value <= goal if most else value >= goal
            checks.append(_target(name, backend, value, f"{'<=' if most else '>='} {goal}", ok, gate=gate))

        def per(new: float | None, old: float | None) -> float | None:
            return None if new is None or not old else round(new / old, 2)

        # The read path's gate: in-process CPU per request, userkit / FastAPI Users.
        for key, label, goal in (("me_jwt", "JWT", 0.25), ("me_database", "database token", 0.35)):
            check(
                f"CPU per GET /users/me, {label}: userkit / FU",
                _cpu_ratio(cpu_ms(outcome, key, UK), cpu_ms(outcome, key, FU)),
                goal,
                most=True,
            )
        check(
            "CPU per GET /users/me, Redis token: userkit / FU",
            _cpu_ratio(cpu_ms(outcome, "me_redis", UK), cpu_ms(outcome, "me_redis", FU)),
            0.35,
            most=True,
        )
        plain = cpu_ms(outcome, "me_jwt", UK)
        for key, label in (("me_sessions", "sessions on"), ("me_mfa", "user with a second factor")):
            check(
                f"CPU per GET /users/me, {label} / plain JWT (userkit)",
                _cpu_ratio(cpu_ms(outcome, key, UK), plain),
                1.15,
                most=True,
            )
        # Against the same-chain ceiling (wrk, medians of the alternations); the old ceiling for reference.
        check(
            "GET /users/me JWT / same-chain ceiling, req/s (userkit)",
            per(uk("me_jwt", "rps"), uk("chain_ceiling", "rps")),
            0.8,
        )
        checks.append(
            _target(
                "GET /users/me JWT / hand-written ceiling, req/s (userkit; reference)",
                backend,
                per(uk("me_jwt", "rps"), uk("ceiling", "rps")),
                "reference",
                None,
                gate=False,
            )
        )
        # wrk, reported: not a gate.
        check("wrk GET /users/me JWT: req/s ratio (reported)", ratio("me_jwt", "rps"), 2.5, gate=False)
        check("wrk GET /users/me JWT: p99 ratio (reported)", ratio("me_jwt", "p99"), 0.5, most=True, gate=False)
        for scenario, label in (("me_database", "database token"), ("me_redis", "Redis token")):
            if scenario in scenarios:
                checks.append(
                    _target(
                        f"wrk GET /users/me {label}: req/s ratio (reported)",
                        backend,
                        ratio(scenario, "rps"),
                        "reference",
                        None,
                        gate=False,
                    )
                )
        # Hash-bound paths against the hash cap of the same run.
        caps = outcome.get("hash_cap") or {}
        for scenario, label, cores, gate in (
            ("login_2cores", "login, 2 cores", "2", True),
            ("register_2cores", "register, 2 cores", "2", True),
            ("login", "login, 1 core", "1", False),
            ("register", "register, 1 core", "1", False),
        ):
            if scenario not in scenarios:
                continue
            cap = (caps.get(cores) or {}).get("per_second")
            check(f"{label}: userkit req/s / hash cap", per(uk(scenario, "rps"), cap), 0.9, gate=gate)
            check(f"{label}: req/s ratio to FU", ratio(scenario, "rps"), 1.0, gate=gate)
        if "storm" in scenarios:
            storm = scenarios["storm"]
            factor = storm[UK]["median"]["p99_factor"]
            against_fu = storm["ratio"]["storm_p99"]
            ok = None if factor is None else factor <= 10.0 or (against_fu is not None and against_fu <= 0.05)
            checks.append(
                _target(
                    f"login storm: userkit storm p99 / quiet p99 (storm p99 / FU's: {against_fu})",
                    backend,
                    factor,
                    "<= 10.0 (or storm p99 <= 0.05x FU's)",
                    ok,
                )
            )
            check("login storm: logins/s ratio to FU", storm["ratio"]["login_rps"], 0.75)
        for scenario in ("register", "register_2cores"):
            if scenario in scenarios:
                errors = scenarios[scenario][UK]["median"]["errors"]
                checks.append(_target(f"{scenario}: userkit errors", backend, errors, "== 0", errors == 0))
        check("peak RSS ratio, 1 core", outcome.get("peak_rss_ratio"), 1.1, most=True)
        two = outcome.get("peak_rss_mb_2cores") or {}
        check("peak RSS ratio, 2 cores", per(two.get(UK), two.get(FU)), 1.25, most=True)
    return checks


def gate_misses(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gate targets measured and missed (what makes ``--check`` exit 1)."""
    return [check for check in checks if check.get("gate") and check["ok"] is False]


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def _rps(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _errors(median: dict[str, Any]) -> str:
    server = median.get("server_errors", 0)
    text = (
        "0" if not median.get("errors") else f"{median['errors']} ({server} x 5xx)" if server else str(median["errors"])
    )
    if median.get("sent"):
        text += f" (stored {median.get('stored', '?')} of {median['sent']} sent)"
    return text


_CPU_ROWS = (
    ("bare", "`/bench/bare` (a constant)"),
    ("chain", "`/bench/chain` (the app's session, user-db and manager dependencies)"),
    ("ceiling", "`/bench/ceiling` (hand-written: JWT + raw select)"),
    ("chain_ceiling", "`/bench/chain-ceiling` (same-chain ceiling)"),
    ("me_jwt", "`GET /users/me`, JWT"),
    ("me_database", "`GET /users/me`, database token"),
    ("me_redis", "`GET /users/me`, Redis token"),
    ("me_sessions", "`GET /users/me`, JWT with sessions on (userkit)"),
    ("me_mfa", "`GET /users/me`, JWT, user with a second factor (userkit)"),
)


def _cpu_lines(results: dict[str, Any]) -> list[str]:
    tables = {backend: outcome["cpu"] for backend, outcome in results.items() if outcome.get("cpu")}
    if not tables:
        return []
    first = next(iter(tables.values()))
    lines = [
        "",
        (
            f"CPU per request in process (bench.cpu_table: ms, median of {first['rounds']} alternated rounds of "
            f"{first['requests']} sequential requests, pinned: {first['pinned']}; range of the rounds in brackets):"
        ),
        "",
        "| request | DB | FU ms | userkit ms | userkit / FU |",
        "|---|---|--:|--:|--:|",
    ]
    for backend, table in tables.items():
        for key, title in _CPU_ROWS:
            row = table["keys"].get(key)
            if row is None:
                continue
            cells = []
            for library in (FU, UK):
                found = row.get(library)
                cells.append(
                    ""
                    if found is None
                    else f"{found['median']:.3f} ({min(found['runs']):.3f}-{max(found['runs']):.3f})"
                )
            old, new = (row.get(library, {}).get("median") for library in (FU, UK))
            share = f"{new / old:.3f}" if old and new else ""
            lines.append(f"| {title} | {_BACKEND_NAMES.get(backend, backend)} | {cells[0]} | {cells[1]} | {share} |")
    return lines


def markdown(document: dict[str, Any]) -> str:
    """The report: throughput table, login storm table, memory, targets."""
    results: dict[str, Any] = document["results"]
    meta: dict[str, Any] = document["meta"]
    lines = [
        f"# fastapi-userkit vs FastAPI Users {meta['versions'][FU].get('fastapi-users', '?')}",
        "",
        (
            f"Mode `{meta['mode']}`: GET runs {meta['plan']['get_seconds']} s x {meta['plan']['get_repeats']}, "
            f"POST runs {meta['plan']['post_seconds']} s x {meta['plan']['post_repeats']} (medians); "
            f"server pinned to CPU 0: {meta['pinned']}; ratios are userkit / FastAPI Users."
        ),
        "",
        (
            "| scenario | DB | FU req/s | userkit req/s | ratio | FU p50 / p99 | userkit p50 / p99 | p99 ratio "
            "| errors FU / userkit |"
        ),
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    storms = []
    for backend, outcome in results.items():
        name = _BACKEND_NAMES.get(backend, backend)
        for scenario_id, record in outcome["scenarios"].items():
            if record["kind"] == "storm":
                storms.append((name, record))
                continue
            old, new = record[FU]["median"], record[UK]["median"]
            lines.append(
                f"| {record['title']} (`{scenario_id}`) | {name} | {_rps(old['rps'])} | {_rps(new['rps'])} "
                f"| **{_x(record['ratio']['rps'])}** | {_ms(old['p50_ms'])} / {_ms(old['p99_ms'])} "
                f"| {_ms(new['p50_ms'])} / {_ms(new['p99_ms'])} | {_x(record['ratio']['p99'])} "
                f"| {_errors(old)} / {_errors(new)} |"
            )
    if storms:
        lines += [
            "",
            "Login storm: `GET /users/me` (JWT) on 4 connections, alone (quiet) and while 16 connections log in.",
            "",
            "| DB | library | quiet p50 / p99 | storm p50 / p99 | storm p99 / quiet p99 | logins/s during storm |",
            "|---|---|--:|--:|--:|--:|",
        ]
        for name, record in storms:
            for library in (FU, UK):
                median = record[library]["median"]
                quiet, storm = median["quiet"], median["storm"]
                during = f"{_ms(storm['p50_ms'])} / {_ms(storm['p99_ms'])}"
                if not storm["requests"]:
                    during = f"none answered in {_ms(median['storm_p99_ms'])}"
                lines.append(
                    f"| {name} | {library} | {_ms(quiet['p50_ms'])} / {_ms(quiet['p99_ms'])} "
                    f"| {during} | {median['p99_factor']:.1f}x | {median['logins']['rps']:.1f} |"
                )
    lines += [
        "",
        "Peak RSS (VmHWM) after the GET scenarios / at the end (1-core servers), and of the 2-core servers:",
        "",
        "| DB | FU | userkit | ratio at the end | 2-core FU / userkit | hash of a new user (FU / userkit) |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for backend, outcome in results.items():
        rss, early = outcome["peak_rss_mb"], outcome.get("peak_rss_mb_get_phase") or {}
        two = outcome.get("peak_rss_mb_2cores") or {}
        hashes = outcome.get("new_hash_params", {})
        lines.append(
            f"| {_BACKEND_NAMES.get(backend, backend)} | {early.get(FU, 0):.0f} / {rss.get(FU, 0):.0f} MB "
            f"| {early.get(UK, 0):.0f} / {rss.get(UK, 0):.0f} MB | {_x(outcome.get('peak_rss_ratio'))} "
            f"| {two.get(FU, 0):.0f} / {two.get(UK, 0):.0f} MB | `{hashes.get(FU)}` / `{hashes.get(UK)}` |"
        )
    lines += _cpu_lines(results)
    caps = [
        f"{_BACKEND_NAMES.get(backend, backend)}, {cores} core(s): {cap['per_second']:.2f} hashes/s "
        f"({cap['threads']} thread(s))"
        for backend, outcome in results.items()
        for cores, cap in sorted((outcome.get("hash_cap") or {}).items())
    ]
    if caps:
        lines += [
            "",
            "Hash cap (bench.hash_cap: Argon2id with the servers' parameters, back to back, pinned alike): "
            + "; ".join(caps)
            + ".",
        ]
    lines += [
        "",
        "Targets of issue 23 (gate: what `--check` holds; the others are reported):",
        "",
        "| target | DB | measured | goal | met | gate |",
        "|---|---|--:|---|---|---|",
    ]
    for check in document["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[check["ok"]]
        if check["goal"] == "reference":
            met = "-"
        value = "n/a" if check["value"] is None else check["value"]
        lines.append(
            f"| {check['target']} | {_BACKEND_NAMES.get(check['backend'], check['backend'])} | {value} "
            f"| {check['goal']} | {met} | {'gate' if check.get('gate') else ''} |"
        )
    if document.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(document["skipped"])]
    if document.get("failures"):
        lines += ["", "Harness failures: " + "; ".join(document["failures"])]
    return "\n".join(lines) + "\n"
