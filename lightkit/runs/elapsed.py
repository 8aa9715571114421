"""How long a run has trained, over all its parts: a run resumed twice has three.

``state.json`` keeps the first start (``started``), the start of the part now running or last run
(``part_started``), the seconds of the parts before it (``earlier_s``) and their count (``parts``).
A part whose process was killed recorded no end: the last write of ``metrics.csv`` or
``last.ckpt`` stands for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["continued_record", "last_activity", "trained_seconds"]


def last_activity(run_dir: Path) -> float | None:
    """When the run last wrote ``metrics.csv`` or ``checkpoints/last.ckpt``, if it did."""
    files = [Path(run_dir) / "metrics.csv", Path(run_dir) / "checkpoints" / "last.ckpt"]
    return max((p.stat().st_mtime for p in files if p.exists()), default=None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def trained_seconds(record: dict[str, Any], end: float | None) -> float | None:
    """Seconds trained by every part of the run, the current one up to ``end``."""
    start = _number(record.get("part_started", record.get("started")))
    if start is None or end is None or end < start:
        return None
    return (_number(record.get("earlier_s")) or 0.0) + end - start


def continued_record(previous: dict[str, Any], run_dir: Path, now: float) -> dict[str, Any]:
    """The timing fields of a part starting at ``now``, carried on from the ``previous`` record."""
    first = _number(previous.get("started"))
    if first is None:
        return {"started": now, "part_started": now, "earlier_s": 0.0, "parts": 1}
    end = _number(previous.get("ended"))
    if end is None or previous.get("state") == "running":  # that part was killed: no end recorded
        end = last_activity(run_dir)
    earlier = trained_seconds(previous, end)
    if earlier is None:
        earlier = _number(previous.get("earlier_s")) or 0.0
    parts = previous.get("parts")
    return {
        "started": first,
        "part_started": now,
        "earlier_s": round(earlier, 3),
        "parts": (parts if isinstance(parts, int) else 1) + 1,
    }
