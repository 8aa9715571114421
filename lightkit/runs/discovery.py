"""Finding runs under a root and summarising each one (what ``lightkit runs list`` shows)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lightkit.runs.damage import record_problems
from lightkit.runs.elapsed import last_activity, trained_seconds
from lightkit.runs.lock import LOCK_FILE, lock_holder
from lightkit.runs.metrics import METRICS_FILE, best_row, read_metrics
from lightkit.runs.record import STATE_FILE, pid_alive, read_json, read_state
from lightkit.tracking.record import read_tracking

__all__ = ["CV_FILE", "RunInfo", "find_runs", "run_info"]

#: the record a cross-validation parent directory holds (see :mod:`lightkit.cli.cv`)
CV_FILE = "cv.json"


def _is_run(path: Path) -> bool:
    return any((path / name).exists() for name in ("config.yaml", "versions.json", STATE_FILE, "metrics.csv"))


def find_runs(root: Path) -> list[Path]:
    """Run directories in ``root`` (or ``root`` itself), with the fold runs of cross-validation parents."""
    root = Path(root)
    if _is_run(root):
        return [root]
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if _is_run(child):
            found.append(child)
        elif (child / CV_FILE).is_file():
            found.extend(sorted((p for p in child.iterdir() if p.is_dir() and _is_run(p)), key=_natural))
    return found


def _natural(path: Path) -> list[Any]:
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def load_yaml(path: Path) -> dict[str, Any]:
    """A run's ``config.yaml`` as a mapping, ``{}`` when it is missing or damaged."""
    from lightkit.config_yaml import load_yaml as load_config
    from lightkit.errors import LightkitError

    try:
        data = load_config(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, LightkitError):
        return {}
    return data if isinstance(data, dict) else {}


def component(config: dict[str, Any], key: str) -> tuple[str, dict[str, Any]]:
    """Short class name and init args of ``model`` or ``data`` in a resolved config."""
    value = config.get(key)
    if not isinstance(value, dict):
        return "-", {}
    if "class_path" in value:
        return str(value["class_path"]).rsplit(".", 1)[-1], dict(value.get("init_args") or {})
    return "-", dict(value)


@dataclass
class RunInfo:
    """What ``runs list`` shows about one run directory."""

    name: str
    path: str
    model: str
    data: str
    started: str | None
    duration_s: float | None
    state: str
    monitor: str | None
    mode: str | None
    best: float | None
    best_epoch: int | None
    epochs: int
    extra: dict[str, Any] = field(default_factory=dict)
    #: the experiment tracker the run logged to (``mlflow``, ``wandb``), from its ``tracking.json``
    tracking: str | None = None
    #: where: the tracking URI (MLflow) or the run's URL / offline directory (W&B)
    tracking_uri: str | None = None
    #: the tracker's id of the run (the MLflow run id)
    tracking_run_id: str | None = None
    #: records that are there but do not read as what they should be: path -> why
    damaged: dict[str, str] = field(default_factory=dict)
    #: how many times it trained: 1, plus one for every resume (``duration_s`` covers them all)
    parts: int = 1


def _state_of(
    run: Path, state: dict[str, Any], versions: dict[str, Any], config: dict[str, Any], epochs: int
) -> str:
    recorded = state.get("state")
    if (run / LOCK_FILE).is_file() and lock_holder(run) is not None:
        return "running"  # a fit holds the run's lock now (lightkit.runs.lock), whatever was recorded
    pid = state.get("pid", versions.get("pid"))
    local = state.get("host") in (None, socket.gethostname())
    if recorded in ("finished", "failed", "interrupted"):
        return recorded
    if recorded == "running":  # a lock file not held (above): the process is gone, whatever its PID is now
        alive = not (run / LOCK_FILE).is_file() and pid_alive(pid)
        return "running" if not local or alive else "interrupted"
    # no record (a run from before state.json existed): infer from what is there
    if local and isinstance(pid, int) and pid > 1 and pid_alive(pid):
        return "running"
    max_epochs = (config.get("trainer") or {}).get("max_epochs")
    if (run / "checkpoints" / "last.ckpt").is_file() and (
        max_epochs in (None, -1) or epochs >= int(max_epochs)
    ):
        return "finished"
    return "interrupted" if (run / "checkpoints").is_dir() else "unknown"


def _data_label(config: dict[str, Any]) -> str:
    name, args = component(config, "data")
    detail = args.get("dataset") or (Path(str(args["path"])).name if args.get("path") else None)
    return f"{name}({detail})" if detail else name


def run_info(run: Path, root: Path | None = None) -> RunInfo:
    """Read one run directory; missing files leave fields empty rather than failing."""
    run = Path(run)
    damaged = record_problems(run)  # nothing is read from a damaged record (lightkit.runs.damage)
    config = {} if "config.yaml" in damaged else load_yaml(run / "config.yaml")
    versions = {} if "versions.json" in damaged else read_json(run / "versions.json")
    state = {} if STATE_FILE in damaged else read_state(run)
    rows = [] if METRICS_FILE in damaged else read_metrics(run)
    tracked = {} if "tracking.json" in damaged else read_tracking(run)
    epochs = max((int(r["epoch"]) + 1 for r in rows if "epoch" in r), default=0)
    start = state.get("started") or versions.get("unix_time")
    if start is None and (run / "config.yaml").exists():
        start = (run / "config.yaml").stat().st_mtime
    status = "damaged" if STATE_FILE in damaged else _state_of(run, state, versions, config, epochs)
    end = state.get("ended")
    if end is None and status == "running":
        end = time.time()
    if end is None:  # killed (or from before state.json): the last file it wrote
        end = last_activity(run)
    # every part of a resumed run, from its first start (lightkit.runs.elapsed)
    duration = trained_seconds(state, end) if state.get("started") else None
    if duration is None and start and end and end >= start:
        duration = end - start
    if STATE_FILE in damaged:  # no duration is made up from file times
        duration = None
    monitor = state.get("monitor") or ("val_loss" if any("val_loss" in r for r in rows) else None)
    mode = state.get("mode") or "min"
    best = best_row(rows, monitor, mode) if monitor else None
    best_value = best[monitor] if best else state.get("best_score")
    name = (
        str(run.relative_to(root))
        if root is not None and run != root and run.is_relative_to(root)
        else run.name
    )
    return RunInfo(
        name=name,
        path=str(run),
        model=component(config, "model")[0],
        data=_data_label(config),
        started=datetime.fromtimestamp(start).isoformat(sep=" ", timespec="seconds") if start else None,
        duration_s=round(duration, 1) if duration is not None else None,
        state=status,
        monitor=monitor,
        mode=mode if monitor else None,
        best=best_value,
        best_epoch=int(best["epoch"]) + 1 if best and "epoch" in best else None,
        epochs=epochs,
        extra={"error": state["error"]} if state.get("error") else {},
        tracking=tracked.get("backend"),
        tracking_uri=tracked.get("tracking_uri"),
        tracking_run_id=tracked.get("run_id"),
        damaged={str(run / name): why for name, why in damaged.items()},
        parts=state["parts"] if isinstance(state.get("parts"), int) and state["parts"] > 0 else 1,
    )


