"""Draws the ratios of a result file as a PNG: ``python bench/chart.py latest.json ratios.png``.

Runs in the ``tools`` environment (matplotlib lives there, not in the project's).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

# The goal of each scenario's throughput ratio in issue 5 (None: no goal, a reference endpoint).
GOALS = {
    "me_jwt": 2.5,
    "me_database": 2.0,
    "me_redis": 2.0,
    "login": 1.0,
    "register": 1.0,
    "login_2cores": 1.8,
    "register_2cores": 1.8,
}


def bars(document: dict[str, Any]) -> list[tuple[str, float, float | None]]:
    """``(label, ratio, goal)`` for every throughput ratio, then the storm's latency factor."""
    rows: list[tuple[str, float, float | None]] = []
    for backend, outcome in document["results"].items():
        for scenario_id, record in outcome["scenarios"].items():
            if record["kind"] == "storm":
                value = record["ratio"].get("login_rps")
                if value is not None:
                    rows.append((f"{backend} storm: logins/s", value, 1.0))
                continue
            value = record["ratio"].get("rps")
            if value is not None:
                rows.append((f"{backend} {scenario_id}", value, GOALS.get(scenario_id)))
        rss = outcome.get("peak_rss_ratio")
        if rss:
            rows.append((f"{backend} peak RSS (lower is better)", rss, 1.1))
    return rows


def main(source: Path, target: Path) -> None:
    """Draw ``source``'s ratios into ``target``."""
    document = json.loads(source.read_text(encoding="utf-8"))
    rows = bars(document)
    height = max(3.0, 0.32 * len(rows) + 1.2)
    figure, axes = plt.subplots(figsize=(9, height))
    labels = [label for label, _, _ in rows]
    values = [value for _, value, _ in rows]
    colours = []
    for label, value, goal in rows:
        if goal is None:
            colours.append("#9e9e9e")
        elif "RSS" in label:
            colours.append("#2e7d32" if value <= goal else "#c62828")
        else:
            colours.append("#2e7d32" if value >= goal else "#c62828")
    positions = range(len(rows))
    axes.barh(list(positions), values, color=colours)
    for position, (_, value, goal) in zip(positions, rows, strict=True):
        axes.text(value, position, f" {value:.2f}x", va="center", fontsize=8)
        if goal is not None:
            axes.plot([goal, goal], [position - 0.4, position + 0.4], color="black", linewidth=1)
    axes.axvline(1.0, color="#424242", linestyle="--", linewidth=0.8)
    axes.set_yticks(list(positions), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("fastapi-userkit / FastAPI Users (black tick: goal of issue 5; grey: reference endpoint)")
    axes.set_title(f"Throughput ratios, mode {document['meta']['mode']}")
    figure.tight_layout()
    figure.savefig(target, dpi=110)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
