"""Turns the harness's results into ratios, target checks, a markdown report and the JSON document."""

from __future__ import annotations

from typing import Any

__all__ = ["add_ratios", "markdown", "targets"]

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


def _target(name: str, backend: str, value: float | None, goal: str, ok: bool | None) -> dict[str, Any]:
    return {"target": name, "backend": backend, "value": value, "goal": goal, "ok": ok}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Check the measured ratios against the targets of issue 5."""
    checks: list[dict[str, Any]] = []
    for backend, outcome in results.items():
        scenarios = outcome["scenarios"]

        def ratio(scenario: str, key: str, *, scenarios: dict[str, Any] = scenarios) -> float | None:
            record = scenarios.get(scenario)
            return None if record is None else record["ratio"].get(key)

        def at_least(name: str, value: float | None, goal: float, *, backend: str = backend) -> None:
            checks.append(_target(name, backend, value, f">= {goal}", None if value is None else value >= goal))

        def at_most(name: str, value: float | None, goal: float, *, backend: str = backend) -> None:
            checks.append(_target(name, backend, value, f"<= {goal}", None if value is None else value <= goal))

        at_least("GET /users/me JWT: req/s ratio", ratio("me_jwt", "rps"), 2.5)
        at_most("GET /users/me JWT: p99 ratio", ratio("me_jwt", "p99"), 0.5)
        if "me_jwt" in scenarios and "ceiling" in scenarios:
            me = scenarios["me_jwt"][UK]["median"]["rps"]
            ceiling = scenarios["ceiling"][UK]["median"]["rps"]
            at_least("GET /users/me JWT: userkit / hand-written ceiling", _ratio(me, ceiling), 0.7)
        at_least("GET /users/me database token: req/s ratio", ratio("me_database", "rps"), 2.0)
        at_least("GET /users/me Redis token: req/s ratio", ratio("me_redis", "rps"), 2.0)
        if "storm" in scenarios:
            storm = scenarios["storm"]
            at_most("login storm: userkit storm p99 / quiet p99", storm[UK]["median"]["p99_factor"], 10.0)
            at_least("login storm: login req/s ratio", storm["ratio"]["login_rps"], 1.0)
        at_least("login req/s ratio, 2 cores", ratio("login_2cores", "rps"), 1.8)
        at_least("register req/s ratio, 2 cores", ratio("register_2cores", "rps"), 1.8)
        at_least("login req/s ratio, 1 core", ratio("login", "rps"), 1.0)
        at_least("register req/s ratio, 1 core", ratio("register", "rps"), 1.0)
        for scenario in ("register", "register_2cores"):
            if scenario in scenarios:
                median = scenarios[scenario][UK]["median"]
                errors = median["errors"]
                checks.append(_target(f"{scenario}: userkit errors", backend, errors, "== 0", errors == 0))
        at_most("peak RSS ratio", outcome.get("peak_rss_ratio"), 1.1)
    return checks


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
    lines += ["", "Targets of issue 5:", "", "| target | DB | measured | goal | met |", "|---|---|--:|---|---|"]
    for check in document["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[check["ok"]]
        value = "n/a" if check["value"] is None else check["value"]
        lines.append(
            f"| {check['target']} | {_BACKEND_NAMES.get(check['backend'], check['backend'])} | {value} "
            f"| {check['goal']} | {met} |"
        )
    if document.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(document["skipped"])]
    if document.get("failures"):
        lines += ["", "Harness failures: " + "; ".join(document["failures"])]
    return "\n".join(lines) + "\n"
