"""What ``predict``, ``test`` and ``validate`` say about what they did.

``predict``: how many rows, from which split or file, which columns, and whether it replaced an
earlier prediction file::

    predictions written to runs/wine/predictions.csv: 36 rows (the test split of scikit-learn's wine dataset)
    columns: row, prediction, prob_class_0, prob_class_1, prob_class_2
    replaced runs/wine/predictions.csv of 2026-11-22 23:47:12 (--run.output FILE keeps both)

``test`` and ``validate``: which checkpoint the metrics are of::

    metrics of runs/wine/checkpoints/best.ckpt: epoch 26, global step 130

A data module says where its predict rows come from with a ``describe_predict_source()`` method
returning a short phrase (``"the test split of scikit-learn's wine dataset"``, ``"every row of
new.csv"``); without one, the line leaves it out.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from lightkit.cli.fit_report import relative

__all__ = ["checkpoint_line", "existing_files", "prediction_lines", "predict_source"]


def existing_files(paths: list[Path | str | None]) -> dict[Path, float]:
    """The modification time of each of ``paths`` that exists now (before ``predict`` writes)."""
    found = {}
    for path in paths:
        if path is not None and Path(path).is_file():
            found[Path(path).resolve()] = Path(path).stat().st_mtime
    return found


def predict_source(datamodule: Any) -> str | None:
    """Where the data module's predict rows come from, in its own words (``describe_predict_source``)."""
    describe = getattr(datamodule, "describe_predict_source", None)
    if not callable(describe):
        return None
    text = describe()
    return str(text) if text else None


def _table_shape(path: Path) -> tuple[list[str], int]:
    """The header and the number of data rows of a CSV file."""
    with path.open(newline="") as handle:
        header = next(csv.reader(handle), [])
    with path.open("rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return header, max(lines - 1, 0)


def prediction_lines(path: Path, datamodule: Any = None, replaced: float | None = None) -> list[str]:
    """What a ``predict`` that wrote ``path`` says.

    Args:
        path: The prediction file written.
        datamodule: The data module predicted from (for :func:`predict_source`).
        replaced: The modification time of the file ``path`` replaced, if there was one.
    """
    header, rows = _table_shape(path)
    source = predict_source(datamodule)
    lines = [
        f"predictions written to {relative(path)}: {rows} row{'s' if rows != 1 else ''}"
        + (f" ({source})" if source else ""),
        f"columns: {', '.join(header)}",
    ]
    if replaced is not None:
        when = datetime.fromtimestamp(replaced).isoformat(sep=" ", timespec="seconds")
        lines.append(f"replaced {relative(path)} of {when} (--run.output FILE keeps both)")
    return lines


def checkpoint_line(path: str | Path | None, checkpoint: dict[str, Any] | None) -> str:
    """``metrics of runs/wine/checkpoints/best.ckpt: epoch 26, global step 130``.

    Args:
        path: The checkpoint the model was loaded from (``None``: no ``--ckpt_path``).
        checkpoint: The loaded checkpoint, for its epoch and global step.
    """
    if not path:
        return "metrics of the model as built, untrained: no --ckpt_path was given"
    where = []
    epoch = (checkpoint or {}).get("epoch")
    if isinstance(epoch, int):
        where.append(f"epoch {epoch + 1}")
    step = (checkpoint or {}).get("global_step")
    if isinstance(step, int):
        where.append(f"global step {step}")
    return f"metrics of {relative(path)}" + (f": {', '.join(where)}" if where else "")
