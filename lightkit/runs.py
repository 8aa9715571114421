"""Run directories: one per ``fit``, holding everything needed to understand and rerun it.

Layout::

    runs/<name>/
    ├── config.yaml        the resolved config: `lightkit fit --config runs/<name>/config.yaml` reruns it
    ├── versions.json      Python, torch, lightning, lightkit and plugin versions, git commit, seed
    ├── metrics.csv        every logged metric, one row per logging step or epoch
    ├── tensorboard/       TensorBoard event files
    ├── checkpoints/
    │   ├── best.ckpt      the best checkpoint by the model's monitored metric
    │   └── last.ckpt      the latest checkpoint, for resuming
    └── predictions.csv    written by `lightkit predict` when it predicts from this run
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["RUNS_ROOT", "find_latest_run", "new_run_dir", "versions_record", "write_versions"]

#: where run directories go unless ``--run.root`` says otherwise
RUNS_ROOT = "runs"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "run"


def new_run_dir(root: str | Path, name: str | None, model: str, data: str) -> Path:
    """A fresh directory path ``root/name``; by default ``<model>-<data>-<timestamp>``.

    A given name that already exists is reused only by resuming; a new run gets ``-2``, ``-3``, ...
    """
    root = Path(root)
    base = _slug(name) if name else _slug(f"{model}-{data}-{datetime.now():%Y%m%d-%H%M%S}")
    candidate, n = root / base, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{base}-{n}"
    return candidate


def find_latest_run(root: str | Path) -> Path | None:
    """The most recently modified run directory under ``root``, if any."""
    root = Path(root)
    if not root.is_dir():
        return None
    runs = [p for p in root.iterdir() if (p / "checkpoints").is_dir()]
    return max(runs, key=lambda p: p.stat().st_mtime, default=None)


def _git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, check=False
    ).stdout.strip()
    return f"{commit}{'+dirty' if dirty else ''}"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions_record(class_paths: list[str], seed: Any) -> dict[str, Any]:
    """Versions of everything a run used, the distributions behind its classes, the git commit and seed."""
    from lightkit.registry import list_plugins

    by_module = {p.module.split(".")[0]: p for p in list_plugins()}
    used: dict[str, str | None] = {}
    for path in class_paths:
        plugin = by_module.get(path.split(".")[0])
        if plugin is not None:
            used[plugin.distribution] = plugin.version
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": _version("torch"),
        "lightning": _version("lightning"),
        "jsonargparse": _version("jsonargparse"),
        "torchmetrics": _version("torchmetrics"),
        "lightkit": _version("lightkit"),
        "plugins": used,
        "git_commit": _git_commit(Path.cwd()),
        "seed": seed,
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "started": datetime.now().isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "unix_time": time.time(),
    }


def write_versions(run_dir: Path, record: dict[str, Any]) -> Path:
    """Write ``versions.json`` into ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "versions.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path
