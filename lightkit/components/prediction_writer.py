"""``PredictionWriter``: writes ``lightkit predict`` output to a CSV, one row per input row."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from lightkit.errors import DataError
from lightkit.files import atomic_writer

__all__ = ["PredictionWriter"]


class PredictionWriter(BasePredictionWriter):
    """Collects the predictions of ``lightkit predict`` and writes them to one CSV file.

    Columns come from the data module's ``describe_predictions(tensor)`` when it has one (row ids,
    labels, probabilities); otherwise they are ``row`` and ``pred_0``, ``pred_1``, ... The file is
    written to a temporary name first and renamed, so an interrupted run leaves no partial file.

    Under DDP, when each rank predicted a share of the rows, the shares are gathered on global
    rank 0 with the input row of each prediction, sorted back into input order, and padding
    duplicates dropped: the file has one row per input row, as from one process. Rank 0 writes it
    once.

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
        """Put the rows of every rank together in input order and write the file (on global rank 0)."""
        batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        indices = batch_indices[0] if batch_indices and isinstance(batch_indices[0], list) else batch_indices
        rows = _stack(batches or [])
        index = _row_index(trainer, indices or [], len(rows) if rows is not None else 0)
        if trainer.world_size > 1 and _is_sharded(trainer):
            rows, index = _gather_to_rank_zero(trainer, rows, index)
        if not trainer.is_global_zero or rows is None or not len(rows):
            return
        if index is not None:
            rows = _in_input_order(rows, index)
        describe = getattr(trainer.datamodule, "describe_predictions", None)
        if callable(describe):
            columns = describe(rows)
        else:
            columns = {"row": list(range(len(rows)))}
            for i in range(rows.shape[1]):
                columns[f"pred_{i}"] = rows[:, i].tolist()
        lengths = {name: len(values) for name, values in columns.items()}
        if set(lengths.values()) != {len(rows)}:
            raise DataError(
                f"describe_predictions of {type(trainer.datamodule).__name__} gave columns of "
                f"{lengths} rows for {len(rows)} predicted rows",
                "every column of the prediction file needs one value per predicted row.",
            )
        path = Path(self.output_path or "predictions.csv")
        self.written_path = _write_csv(path, columns)


def _stack(batches: list[Any]) -> torch.Tensor | None:
    """One ``(rows, columns)`` CPU tensor from the predicted batches, or ``None`` for none."""
    if not batches:
        return None
    return torch.cat([torch.as_tensor(b).detach().cpu().reshape(len(b), -1) for b in batches])


def _predict_loader(trainer: pl.Trainer) -> Any:
    loaders = trainer.predict_dataloaders
    if isinstance(loaders, (list, tuple)):
        return loaders[0] if loaders else None
    if isinstance(loaders, dict):
        return next(iter(loaders.values()), None)
    return loaders


def _row_index(trainer: pl.Trainer, batch_indices: list[list[int]], rows: int) -> torch.Tensor | None:
    """The input row of each predicted row: from Lightning's sampler, or the loader's ``row_indices()``.

    A ``DataLoader`` gets its indices from Lightning (its batch sampler is wrapped to record
    them; under DDP its sampler is Lightning's ``UnrepeatedDistributedSampler``). A loader that
    shards rows itself tells them with a ``row_indices()`` method: this rank's input rows, in the
    order it served them. ``None`` when neither says (the rows are then in input order as they are).
    """
    flat = [int(i) for batch in batch_indices for i in batch]
    if flat and len(flat) == rows:
        return torch.tensor(flat, dtype=torch.long)
    served = getattr(_predict_loader(trainer), "row_indices", None)
    if callable(served):
        index = torch.as_tensor(served(), dtype=torch.long).reshape(-1)
        return index[:rows] if len(index) >= rows else None
    return None


def _is_sharded(trainer: pl.Trainer) -> bool:
    """Whether each rank predicted only its share of the rows (the same answer on every rank).

    Lightning shards a ``DataLoader`` under DDP (``use_distributed_sampler``); a loader of its own
    says so with ``world_size > 1``. Any other loader gave every rank every row, and rank 0 writes
    its own.

    Raises:
        DataError: The loader shards rows itself but has no ``row_indices()`` to say which.
    """
    from lightning.pytorch.overrides.distributed import _IndexBatchSamplerWrapper

    loader = _predict_loader(trainer)
    if isinstance(getattr(loader, "batch_sampler", None), _IndexBatchSamplerWrapper):
        sampler = getattr(loader.batch_sampler, "sampler", None)
        return getattr(sampler, "num_replicas", 1) > 1
    if getattr(loader, "world_size", 1) <= 1:
        return False
    if not callable(getattr(loader, "row_indices", None)):
        raise DataError(
            f"the predict loader ({type(loader).__name__}) shards rows across {loader.world_size} "
            "processes but has no row_indices() to say which input rows each rank predicted",
            "give it a row_indices() method (this rank's input rows, in the order served), "
            "return a DataLoader, or predict on one device (--trainer.devices 1).",
        )
    return True


def _gather_to_rank_zero(
    trainer: pl.Trainer, rows: torch.Tensor | None, index: torch.Tensor | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Every rank's rows and their input rows, concatenated on global rank 0 (``None`` elsewhere).

    Raises:
        DataError: On rank 0, when a rank predicted rows without knowing which input rows they are.
    """
    import torch.distributed as dist

    gathered: list[Any] | None = [None] * trainer.world_size if trainer.is_global_zero else None
    dist.gather_object((rows, index), gathered, dst=0)
    if gathered is None:
        return None, None
    unknown = [rank for rank, (r, i) in enumerate(gathered) if r is not None and len(r) and i is None]
    if unknown:
        raise DataError(
            f"rank {unknown[0]} predicted rows but its loader did not say which input rows they are "
            "(row_indices() gave fewer rows than were predicted)",
            "row_indices() must give this rank's input rows, one per predicted row, in order.",
        )
    parts = [(r, i) for r, i in gathered if r is not None and len(r)]
    if not parts:
        return None, None
    return torch.cat([r for r, _ in parts]), torch.cat([i for _, i in parts])


def _in_input_order(rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The rows sorted by input row, each input row once (padding duplicates dropped)."""
    order = torch.argsort(index, stable=True)
    index, rows = index[order], rows[order]
    first = torch.ones(len(index), dtype=torch.bool)
    first[1:] = index[1:] != index[:-1]
    return rows[first]


def _write_csv(path: Path, columns: dict[str, list[Any]]) -> Path:
    with atomic_writer(path, "w", newline="") as handle:  # fsynced, renamed over the target
        writer = csv.writer(handle)
        writer.writerow(list(columns))
        writer.writerows(zip(*columns.values(), strict=True))
    return path
