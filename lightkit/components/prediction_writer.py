"""``PredictionWriter``: writes ``lightkit predict`` output to a CSV, one row per input row."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from lightkit.errors import DataError

__all__ = ["PredictionWriter"]


class PredictionWriter(BasePredictionWriter):
    """Collects the predictions of ``lightkit predict`` and writes them to one CSV file.

    Columns come from the data module's ``describe_predictions(tensor)`` when it has one (row ids,
    labels, probabilities); otherwise they are ``row`` and ``pred_0``, ``pred_1``, ... The file is
    written to a temporary name first and renamed, so an interrupted run leaves no partial file.

    Args:
        output_path: The CSV file to write; by default ``predictions.csv`` in the run directory.
    """

    def __init__(self, output_path: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output_path = output_path
        self.written_path: Path | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Fail before predicting, not after, when the output cannot be written."""
        if stage != "predict" or self.output_path is None:
            return
        parent = Path(self.output_path).resolve().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=parent, prefix=".lightkit-probe-", delete=True)
            probe.close()
        except OSError as err:
            raise DataError(
                f"cannot write predictions to {self.output_path!r}: {err.strerror or err}",
                "choose a writable path with --run.output, or fix the directory's permissions.",
            ) from None

    def write_on_epoch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        predictions: Any,
        batch_indices: Any,
    ) -> None:
        """Concatenate the batches and write the file (on rank zero)."""
        batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        if not batches or not trainer.is_global_zero:
            return
        stacked = torch.cat([torch.as_tensor(b).reshape(len(b), -1) for b in batches])
        describe = getattr(trainer.datamodule, "describe_predictions", None)
        if callable(describe):
            columns = describe(stacked)
        else:
            columns = {"row": list(range(len(stacked)))}
            for i in range(stacked.shape[1]):
                columns[f"pred_{i}"] = stacked[:, i].tolist()
        path = Path(self.output_path or "predictions.csv")
        self.written_path = _write_csv(path, columns)


def _write_csv(path: Path, columns: dict[str, list[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(list(columns))
            writer.writerows(zip(*columns.values()))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
