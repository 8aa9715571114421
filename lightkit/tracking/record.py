"""``tracking.json``: which tracker run a run directory (or a parent directory) logged to.

A tracked run directory holds::

    {"backend": "mlflow", "tracking_uri": "sqlite:////abs/runs/mlflow.db",
     "experiment_id": "1", "run_id": "3f0c...", "parent_run_id": null}

``lightkit fit --ckpt_path last`` reads it to continue the same tracker run, and ``lightkit runs``
shows it. A cross-validation or sweep directory holds the same record for the parent run. This
module imports only the standard library.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["TRACKING_FILE", "read_tracking", "shown_uri", "write_tracking"]

#: the tracking record inside a run directory
TRACKING_FILE = "tracking.json"


def read_tracking(run_dir: Path) -> dict[str, Any]:
    """The directory's tracking record, or ``{}`` when it was not tracked (or the file is unreadable)."""
    try:
        data = json.loads((Path(run_dir) / TRACKING_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_tracking(run_dir: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as the directory's ``tracking.json`` (replaced whole, never half-written)."""
    path = Path(run_dir) / TRACKING_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def shown_uri(uri: str | None, cwd: Path | None = None) -> str | None:
    """``uri`` for printing: no password, and a SQLite file under ``cwd`` as a relative path.

    The relative form is what ``mlflow ui --backend-store-uri`` takes from the same directory.
    """
    if not uri:
        return uri
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :])
        try:
            return f"sqlite:///{path.relative_to((cwd or Path.cwd()).resolve())}"
        except ValueError:
            return uri
    parts = urlsplit(uri)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri
