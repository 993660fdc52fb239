"""Draws the targets of a result file as a PNG: ``python bench/chart.py latest.json ratios.png``.

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

_BACKENDS = {"sqlite": "SQLite", "postgresql": "PG"}


def bars(document: dict[str, Any]) -> list[tuple[str, float, float | None, bool | None]]:
    """``(label, value, goal, met)`` for every target of issue 23 with a measured value."""
    rows: list[tuple[str, float, float | None, bool | None]] = []
    for check in document.get("targets", []):
        value = check["value"]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            continue  # not measured, or a count of errors (0 is the goal)
        goal_text = str(check["goal"]).split()
        goal = float(goal_text[1]) if len(goal_text) >= 2 and goal_text[0] in {"<=", ">="} else None
        gate = "" if check.get("gate") or "(" in check["target"] else " (reported)"
        label = f"{_BACKENDS.get(check['backend'], check['backend'])}: {check['target'].split(' (storm')[0]}{gate}"
        rows.append((label, float(value), goal, check["ok"]))
    return rows


def main(source: Path, target: Path) -> None:
    """Draw ``source``'s targets into ``target``."""
    document = json.loads(source.read_text(encoding="utf-8"))
    rows = bars(document)
    height = max(3.0, 0.3 * len(rows) + 1.4)
    figure, axes = plt.subplots(figsize=(11, height))
    labels = [label for label, _, _, _ in rows]
    values = [value for _, value, _, _ in rows]
    colours = ["#9e9e9e" if met is None else "#2e7d32" if met else "#c62828" for _, _, _, met in rows]
    positions = range(len(rows))
    axes.barh(list(positions), values, color=colours)
    for position, (_, value, goal, _) in zip(positions, rows, strict=True):
        axes.text(value, position, f" {value:g}", va="center", fontsize=7)
        if goal is not None:
            axes.plot([goal, goal], [position - 0.4, position + 0.4], color="black", linewidth=1.2)
    axes.set_xscale("log")
    axes.axvline(1.0, color="#424242", linestyle="--", linewidth=0.8)
    axes.set_yticks(list(positions), labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("measured (log scale); black tick: the goal; green met, red missed, grey reference")
    axes.set_title(f"Targets of issue 23, mode {document['meta']['mode']}")
    figure.tight_layout()
    figure.savefig(target, dpi=110)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
