"""The parity check of ``lightkit export``: the ONNX model and its preprocessing against the checkpoint.

Both sides start from the same raw rows. The checkpoint side is what ``lightkit predict`` does:
the data module's own transform, ``predict_step`` under a Lightning ``Trainer``, and the data
module's ``describe_predictions``. The ONNX side is what a deployment does: ``preprocess.json``
applied with numpy, the graph run by ONNX Runtime on ``CPUExecutionProvider`` (all rows in one
batch, then the first row alone), and the columns named from ``preprocess.json``. The export
passes when every output is within ``atol + rtol * |checkpoint value|`` (``torch.testing``'s float32
defaults: 1e-5 and 1.3e-6) and every label and id agrees.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from lightkit.export.hooks import export_batch
from lightkit.export.preprocess import Preprocess

__all__ = ["ParityReport", "checkpoint_predictions", "compare"]

PROVIDER = "CPUExecutionProvider"


@dataclass
class ParityReport:
    """How the exported model compares with the checkpoint on the check rows.

    Attributes:
        rows: Rows checked.
        source: Where they came from (``validation split`` or a CSV path).
        provider: The ONNX Runtime execution provider.
        atol: The absolute tolerance: a value passes within ``atol + rtol * |checkpoint value|``.
        rtol: The relative tolerance (for outputs far from 0, such as regression values).
        max_abs_diff: Largest absolute difference between the outputs (every batch size).
        worst: Where the output is furthest from its tolerance: ``{"row": id, "output": column index}``.
        within_tolerance: Whether every output is within the tolerance.
        input_max_abs_diff: Largest difference between the model inputs made by ``preprocess.json``
            and by the data module (0 when the preprocessing is reproduced exactly).
        label_columns: The decision columns compared exactly (labels, 0/1 tags).
        labels_agree: Rows on which every label column and the id agree.
        mismatches: The first rows that disagree: ``{"row", "column", "checkpoint", "onnx"}``.
        batch_sizes: The batch sizes the ONNX model was run with.
        passed: Whether the export reproduces the checkpoint.
    """

    rows: int
    source: str
    provider: str
    atol: float
    rtol: float
    max_abs_diff: float
    worst: dict[str, Any]
    within_tolerance: bool
    input_max_abs_diff: float
    label_columns: list[str]
    labels_agree: int
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    passed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The report as plain data, for export.json."""
        record = asdict(self)
        for key in ("max_abs_diff", "input_max_abs_diff"):
            if not math.isfinite(record[key]):
                record[key] = str(record[key])
        return record

    def lines(self) -> list[str]:
        """The report as the lines ``lightkit export`` prints."""
        sizes = " and ".join(str(b) for b in self.batch_sizes)
        out = [
            f"parity on {self.rows} rows of the {self.source} "
            f"(ONNX Runtime, {self.provider}, batch {sizes}):",
            f"  max abs difference {self.max_abs_diff:.3g} "
            f"(allowed: atol {self.atol:g} + rtol {self.rtol:g} x |value|)"
            f", worst at row {self.worst.get('row')!r}, output {self.worst.get('output')}",
            f"  labels agree on {self.labels_agree}/{self.rows} rows"
            + (f" ({', '.join(self.label_columns)})" if self.label_columns else ""),
        ]
        if self.input_max_abs_diff > 0:
            out.append(
                f"  model inputs differ by up to {self.input_max_abs_diff:.3g} "
                "(preprocess.json vs the data module)"
            )
        for m in self.mismatches[:3]:
            out.append(
                f"  row {m['row']!r}, {m['column']}: checkpoint {m['checkpoint']!r}, onnx {m['onnx']!r}"
            )
        return out


@contextlib.contextmanager
def _quiet_trainer() -> Iterator[None]:
    """No "GPU available" lines and no dataloader advice: the check is not a user's predict run."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def checkpoint_predictions(
    model: Any, datamodule: Any, frame: pd.DataFrame, ids: list[Any]
) -> tuple[dict[str, torch.Tensor], np.ndarray, dict[str, list[Any]]]:
    """What ``lightkit predict`` makes of ``frame``: the batch, the stacked output and the columns."""
    from lightning.pytorch import Trainer

    from lightkit.data.tensor_loader import TensorBatchLoader

    batch = export_batch(datamodule, frame)
    loader = TensorBatchLoader(batch, batch_size=1024)
    with tempfile.TemporaryDirectory(prefix="lightkit-parity-") as tmp, _quiet_trainer():
        trainer = Trainer(
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[],
            default_root_dir=tmp,
        )
        predictions = trainer.predict(model, dataloaders=loader, return_predictions=True)
    stacked = torch.cat([torch.as_tensor(b).reshape(len(b), -1) for b in predictions or []])
    describe = getattr(datamodule, "describe_predictions", None)
    if callable(describe):
        datamodule.trainer = trainer  # as under `lightkit predict`: describe may read the model (a threshold)
        if hasattr(datamodule, "predict_ids"):
            datamodule.predict_ids = list(ids)
        columns = describe(stacked)
    else:
        columns = {"row": list(ids)} | {f"pred_{i}": stacked[:, i].tolist() for i in range(stacked.shape[1])}
    return batch, stacked.double().numpy(), columns


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """The largest absolute difference; infinite for different shapes or a NaN on one side only."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    diff = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(a - b))
    return float(np.nan_to_num(diff, nan=math.inf).max())


def _worst(
    got: np.ndarray, expected: np.ndarray, atol: float, rtol: float
) -> tuple[float, bool, tuple[int, int]]:
    """The largest difference, whether all are within ``atol + rtol * |expected|``, and the worst place."""
    got, expected = got.astype(np.float64), expected.astype(np.float64)
    if got.shape != expected.shape:
        return math.inf, False, (0, 0)
    if got.size == 0:
        return 0.0, True, (0, 0)
    diff = np.where(np.isnan(got) & np.isnan(expected), 0.0, np.abs(got - expected))
    diff = np.nan_to_num(diff, nan=math.inf)
    allowed = atol + rtol * np.abs(np.nan_to_num(expected))
    at = np.unravel_index(int(np.argmax(diff - allowed)), diff.shape)
    return float(diff.max()), bool((diff <= allowed).all()), (int(at[0]), int(at[1]))


def compare(
    session: Any,
    preprocess: Preprocess,
    frame: pd.DataFrame,
    source: str,
    checkpoint: tuple[dict[str, torch.Tensor], np.ndarray, dict[str, list[Any]]],
    atol: float,
    rtol: float,
) -> ParityReport:
    """Run the ONNX model on ``frame`` through ``preprocess`` and compare with the checkpoint's results."""
    batch, expected, expected_columns = checkpoint
    ids = preprocess.ids(frame)
    arrays = preprocess.transform(frame)
    output_name = session.get_outputs()[0].name
    full = session.run([output_name], arrays)[0].reshape(len(frame), -1)
    single = session.run([output_name], {k: v[:1] for k, v in arrays.items()})[0].reshape(1, -1)
    diff, within, (row, col) = _worst(full, expected, atol, rtol)
    single_diff, single_within, (_, single_col) = _worst(single, expected[:1], atol, rtol)
    if within and not single_within:  # only the one-row batch is off: point at it
        row, col = 0, single_col
    diff, within = max(diff, single_diff), within and single_within
    input_diff = 0.0
    for name, array in arrays.items():
        theirs = batch.get(name)
        step = (
            math.inf
            if theirs is None
            else _max_diff(array.reshape(len(array), -1), theirs.reshape(len(theirs), -1).numpy())
        )
        input_diff = max(input_diff, step)
    got_columns = preprocess.describe(full, ids)
    label_columns = [c for c in preprocess.label_columns() if c in got_columns]
    mismatches: list[dict[str, Any]] = []
    if list(got_columns) != list(expected_columns):
        mismatches.append(
            {
                "row": None,
                "column": "(names)",
                "checkpoint": list(expected_columns),
                "onnx": list(got_columns),
            }
        )
        agree = 0
    else:
        exact = [next(iter(got_columns)), *label_columns]
        ok = np.ones(len(frame), dtype=bool)
        for column in exact:
            mine, theirs = got_columns[column], expected_columns[column]
            same = np.array([str(a) == str(b) for a, b in zip(mine, theirs, strict=True)], dtype=bool)
            for i in np.flatnonzero(~same)[: 3 - len(mismatches)].tolist():
                mismatches.append({"row": ids[i], "column": column, "checkpoint": theirs[i], "onnx": mine[i]})
            ok &= same
        agree = int(ok.sum())
    passed = within and agree == len(frame) and not mismatches
    return ParityReport(
        rows=len(frame),
        source=source,
        provider=PROVIDER,
        atol=atol,
        rtol=rtol,
        max_abs_diff=diff,
        worst={"row": _plain(ids[row]) if len(ids) else None, "output": col},
        within_tolerance=within,
        input_max_abs_diff=input_diff,
        label_columns=label_columns,
        labels_agree=agree,
        mismatches=[{k: _plain(v) for k, v in m.items()} for m in mismatches],
        batch_sizes=[len(frame), 1],
        passed=passed,
    )


def _plain(value: Any) -> Any:
    """A numpy scalar as a Python value, so that the report is JSON."""
    return value.item() if isinstance(value, np.generic) else value
