"""``PlainProgress``: one plain line per epoch, for logs and pipes."""

from __future__ import annotations

import math
import sys
from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["PlainProgress"]


class PlainProgress(pl.Callback):
    """One plain line per epoch, for logs and pipes where a live progress bar would be noise.

    Lightning reduces epoch-level metrics only after every ``*_epoch_end`` hook has run, so the
    line for epoch *e* is printed when epoch *e + 1* starts (or training ends): by then both its
    training and validation metrics are final.
    """

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream
        self._finished_epoch: int | None = None

    def _flush(self, trainer: pl.Trainer) -> None:
        if self._finished_epoch is not None and trainer.is_global_zero:
            print(_epoch_line(trainer, self._finished_epoch), file=self.stream or sys.stdout, flush=True)
        self._finished_epoch = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Remember that an epoch finished; its metrics are not reduced yet."""
        self._finished_epoch = trainer.current_epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the previous epoch's line."""
        self._flush(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the last epoch's line."""
        self._flush(trainer)


def _epoch_line(trainer: pl.Trainer, epoch: int) -> str:
    metrics = []
    for key, value in sorted(trainer.callback_metrics.items()):
        if key.endswith("_step") or f"{key}_epoch" in trainer.callback_metrics:
            continue
        number = float(value) if isinstance(value, torch.Tensor) and value.numel() == 1 else None
        if number is not None and math.isfinite(number):
            metrics.append(f"{key.removesuffix('_epoch')}={number:.4g}")
    total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
    return f"epoch {epoch + 1}{total}  " + "  ".join(metrics)
