"""The benchmark harness (``bench/``) works end to end: ``python -m bench --quick --smoke``.

It builds (or reuses) the two server environments under ``bench/.venvs``, measures one round of
the in-process CPU table, starts FastAPI Users and fastapi-userkit on SQLite, runs every one-core
scenario for a second or two and writes its JSON result. Timings are not asserted: only that the
harness runs, both servers answer, and every target of issue 23 is evaluated.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARIES = ("fastapi-users", "fastapi-userkit")
GET_SCENARIOS = {"bare", "jwt_decode", "ceiling", "chain_ceiling", "me_jwt", "me_database"}
CPU_KEYS = {"bare", "chain", "ceiling", "chain_ceiling", "me_jwt", "me_database"}
USERKIT_CPU_KEYS = {"me_sessions", "me_mfa"}
POST_SCENARIOS = {"storm", "login", "register"}
# Building both environments on a fresh machine takes ~1 minute, the run itself about as long.
TIMEOUT_SECONDS = 600


def run_check(output: Path) -> tuple[int, str]:
    """Run the harness smoke test into ``output``; SIGTERM it (so it stops its servers) on timeout."""
    command = [sys.executable, "-m", "bench", "--quick", "--smoke", "--output", str(output)]
    # A fixed argv: this interpreter and the repository's own bench package.
    process = subprocess.Popen(  # noqa: S603
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        text, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        text, _ = process.communicate(timeout=60)
        pytest.fail(f"python -m bench --quick --smoke took over {TIMEOUT_SECONDS} s:\n{text}")
    return process.returncode, text


@pytest.mark.slow
def test_bench_quick_check_runs_every_scenario(tmp_path: Path) -> None:
    """The harness exits 0 and records every scenario for both libraries, with answers to every GET."""
    returncode, text = run_check(tmp_path)

    assert returncode == 0, text
    document: dict[str, Any] = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    sqlite = document["results"]["sqlite"]
    scenarios = set(sqlite["scenarios"])
    assert scenarios >= GET_SCENARIOS | POST_SCENARIOS
    redis_skipped = any("me_redis" in reason for reason in document["skipped"])
    assert ("me_redis" in scenarios) != redis_skipped
    for scenario in GET_SCENARIOS:
        for library in LIBRARIES:
            assert sqlite["scenarios"][scenario][library]["median"]["requests"] > 0, (scenario, library)
    hashes = sqlite["new_hash_params"]
    assert hashes["fastapi-users"] == hashes["fastapi-userkit"] == "$argon2id$v=19$m=65536,t=3,p=4"
    assert document["failures"] == []
    cpu = sqlite["cpu"]["keys"]
    for key in CPU_KEYS:
        for library in LIBRARIES:
            assert cpu[key][library]["median"] > 0, (key, library)
    for key in USERKIT_CPU_KEYS:
        assert cpu[key]["fastapi-userkit"]["median"] > 0, key
        assert "fastapi-users" not in cpu[key]
    assert sqlite["hash_cap"]["1"]["per_second"] > 0
    evaluated = {check["target"] for check in document["targets"] if check["value"] is not None}
    assert {
        "CPU per GET /users/me, JWT: userkit / FU",
        "CPU per GET /users/me, sessions on / plain JWT (userkit)",
        "CPU per GET /users/me, user with a second factor / plain JWT (userkit)",
        "GET /users/me JWT / same-chain ceiling, req/s (userkit)",
        "login, 1 core: userkit req/s / hash cap",
        "login storm: logins/s ratio to FU",
    } <= evaluated
    text = (tmp_path / "latest.md").read_text(encoding="utf-8")
    assert text.startswith("# fastapi-userkit vs FastAPI Users")
    assert "CPU per request in process" in text
    assert "Hash cap" in text
