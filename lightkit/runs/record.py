"""A run's record: ``versions.json`` (what it ran with) and ``state.json`` (how it is doing)."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from lightkit.files import atomic_write
from lightkit.runs.elapsed import continued_record

__all__ = ["STATE_FILE", "read_json", "read_state", "pid_alive", "versions_record", "write_state", "write_versions"]

#: the run-state record inside a run directory
STATE_FILE = "state.json"


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


# -- the run-state record --------------------------------------------------------------------------
def write_state(run_dir: Path, state: str, **fields: Any) -> Path:
    """Record ``state`` (``running``, ``finished``, ``failed``, ``interrupted``) in ``run_dir/state.json``.

    ``running`` starts a new record (process id, host, start time) that keeps the first start and
    the time trained by the earlier parts of a resumed run (see :mod:`lightkit.runs.elapsed`); the
    other states keep it and add the end time. Extra ``fields`` (``monitor``, ``mode``,
    ``best_score``, ``error``) are merged in.
    """
    path = Path(run_dir) / STATE_FILE
    now = time.time()
    record = read_state(run_dir)
    if state == "running":
        timing = continued_record(record, Path(run_dir), now)
        record = {"pid": os.getpid(), "host": socket.gethostname(), **timing}
    else:
        record["ended"] = now
    record.update(state=state, **fields)
    atomic_write(path, json.dumps(record, indent=2, default=str) + "\n")
    return path


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_state(run_dir: Path) -> dict[str, Any]:
    """The run's ``state.json``, or ``{}``."""
    return read_json(Path(run_dir) / STATE_FILE)


def pid_alive(pid: Any) -> bool:
    """Whether process ``pid`` runs on this host (in this PID namespace).

    A zombie (exited, not yet reaped by its parent) does not; one that is not ours to signal does.
    """
    try:
        os.kill(int(pid), 0)
    except PermissionError:
        return True
    except (OSError, ValueError, TypeError, OverflowError):
        return False
    try:
        state = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(pid, 0) is all there is
    return state not in ("Z", "X")


