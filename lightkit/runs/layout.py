"""Where runs live: the run directory layout, new run names, and the latest run.

Layout::

    <root>/<name>/               root: ``trainer.default_root_dir`` (``runs/`` for the lightkit command)
    ├── config.yaml        the resolved config: `lightkit fit --config runs/<name>/config.yaml` reruns it
    ├── versions.json      Python, torch, lightning, lightkit and plugin versions, git commit, seed
    ├── state.json         running / finished / failed / interrupted, best score, process id
    ├── .lock              held by the one command writing into the run (lightkit.runs.lock)
    ├── metrics.csv        every logged metric, one row per logging step or epoch
    ├── tensorboard/       TensorBoard event files
    ├── checkpoints/
    │   ├── best.ckpt      the best checkpoint by the model's monitored metric
    │   └── last.ckpt      the end of the latest epoch, for resuming
    └── predictions.csv    written by `lightkit predict` when it predicts from this run

This package is standard library only: ``lightkit runs`` reads runs without importing torch.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

__all__ = ["CHECKPOINTS_DIR", "RUNS_ROOT", "check_run_name", "find_latest_run", "new_run_dir"]

#: where run directories go for the ``lightkit`` command unless ``--trainer.default_root_dir`` says otherwise
RUNS_ROOT = "runs"
#: the checkpoint folder inside a run directory
CHECKPOINTS_DIR = "checkpoints"


def _slug(text: str) -> str:
    """A default run name from class names and a time: letters of any script, digits, ``_.-``."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-") or "run"


def check_run_name(name: str, source: str = "--run.name") -> str:
    """``name`` as written, when it can be one directory name; refused otherwise, never changed.

    Letters of any script, digits, spaces and punctuation are kept. Refused: an empty name,
    ``.`` and ``..``, a ``/``, control characters, and more than 255 bytes of UTF-8 (the usual
    limit of a file name).

    Raises:
        ConfigError: The name cannot be a directory name; the message says why.
    """
    from lightkit.errors import ConfigError

    hint = "a run name is one directory name: letters of any script, digits, spaces, '.', '-', '_'."
    why = None
    if not name.strip():
        why = "is empty"
    elif name in (".", ".."):
        why = "names a directory that is not a run"
    elif "/" in name or "\0" in name:
        why = "holds '/', which would make it a path, not a name"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        why = "holds a control character (a newline, tab, ...)"
    elif (size := len(name.encode("utf-8", errors="surrogateescape"))) > 255:
        why = f"is {size} bytes long in UTF-8; a file name holds 255"
    if why:
        raise ConfigError(f"run name {name!r} (from {source}) {why}", hint)
    return name


def new_run_dir(root: str | Path, name: str | None, model: str, data: str) -> Path:
    """A fresh directory path ``root/name``; by default ``<model>-<data>-<timestamp>``.

    A given name is kept as written (see :func:`check_run_name`). One that already exists is
    reused only by resuming; a new run gets ``-2``, ``-3``, ...
    """
    root = Path(root)
    base = check_run_name(name) if name else _slug(f"{model}-{data}-{datetime.now():%Y%m%d-%H%M%S}")
    candidate, n = root / base, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{base}-{n}"
    return candidate


def find_latest_run(root: str | Path) -> Path | None:
    """The most recently modified run directory under ``root``, if any.

    Run directories are lightkit's ``root/<name>/`` and Lightning's ``root/lightning_logs/version_N/``
    (a LightningCLI script's), each with a ``checkpoints/`` folder.
    """
    root = Path(root)
    if not root.is_dir():
        return None
    places = [root, root / "lightning_logs"]
    runs = [p for place in places if place.is_dir() for p in place.iterdir() if (p / CHECKPOINTS_DIR).is_dir()]
    return max(runs, key=lambda p: (p / CHECKPOINTS_DIR).stat().st_mtime, default=None)
