"""Run directories: what a run is, on disk, with the standard library only.

* :mod:`lightkit.runs.layout`: where runs live and how they are named.
* :mod:`lightkit.runs.record`: ``versions.json`` and ``state.json``.
* :mod:`lightkit.runs.metrics`: reading ``metrics.csv``.
* :mod:`lightkit.runs.discovery`: finding runs and summarising them.
* :mod:`lightkit.runs.damage`: which records of a run are damaged (read as nothing, named by path).
* :mod:`lightkit.runs.lock`: one writer per run directory (``flock``; gone with its process).
"""

from lightkit.runs.discovery import CV_FILE, RunInfo, find_runs, run_info
from lightkit.runs.layout import CHECKPOINTS_DIR, RUNS_ROOT, find_latest_run, new_run_dir
from lightkit.runs.metrics import METRICS_FILE, best_row, metric_names, metric_series, read_metrics
from lightkit.runs.record import STATE_FILE, read_state, versions_record, write_state, write_versions

__all__ = [
    "CHECKPOINTS_DIR",
    "CV_FILE",
    "METRICS_FILE",
    "RUNS_ROOT",
    "STATE_FILE",
    "RunInfo",
    "best_row",
    "find_latest_run",
    "find_runs",
    "metric_names",
    "metric_series",
    "new_run_dir",
    "read_metrics",
    "read_state",
    "run_info",
    "versions_record",
    "write_state",
    "write_versions",
]
