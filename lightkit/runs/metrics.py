"""Reading a run's ``metrics.csv``: rows, metric names, per-epoch series and the best row."""

from __future__ import annotations

import csv
import math
from pathlib import Path

__all__ = ["METRICS_FILE", "best_row", "metric_names", "metric_series", "read_metrics"]

#: the metrics table inside a run directory
METRICS_FILE = "metrics.csv"


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """Rows of the run's ``metrics.csv`` with the empty cells left out, values as floats."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    try:
        return _rows(path)
    except (OSError, UnicodeDecodeError, csv.Error):  # a damaged file (lightkit.runs.damage says why)
        return []


def _rows(path: Path) -> list[dict[str, float]]:
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            row = {}
            for key, value in raw.items():
                if key and value not in (None, ""):
                    try:
                        row[key] = float(value)
                    except ValueError:
                        continue
            rows.append(row)
    return rows


def metric_names(rows: list[dict[str, float]]) -> list[str]:
    """Metric names a user can ask for: ``*_epoch`` without the suffix, ``*_step`` series left out."""
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key in ("epoch", "step") or key.endswith("_step"):
                continue
            names[key.removesuffix("_epoch")] = None
    return sorted(names)


def metric_series(rows: list[dict[str, float]], metric: str) -> tuple[list[int], list[float]]:
    """One value of ``metric`` per epoch (the last logged), epochs counted from 1."""
    column = metric if any(metric in r for r in rows) else f"{metric}_epoch"
    by_epoch: dict[int, float] = {}
    for row in rows:
        if column in row and "epoch" in row:
            by_epoch[int(row["epoch"]) + 1] = row[column]
    epochs = sorted(by_epoch)
    return epochs, [by_epoch[e] for e in epochs]


def best_row(rows: list[dict[str, float]], monitor: str, mode: str = "min") -> dict[str, float] | None:
    """The first row holding the best value of ``monitor`` (what the best checkpoint was saved at)."""
    candidates = [r for r in rows if monitor in r and math.isfinite(r[monitor])]
    if not candidates:
        return None
    pick = min if mode == "min" else max
    best = pick(r[monitor] for r in candidates)
    return next(r for r in candidates if r[monitor] == best)


