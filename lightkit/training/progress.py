"""Progress display: ``PlainProgress`` (one plain line per epoch) and ``RunProgressBar`` (rich)."""

from __future__ import annotations

import math
import sys
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, RichProgressBar

__all__ = ["PlainProgress", "RunProgressBar"]


class RunProgressBar(RichProgressBar):
    """Lightning's rich progress bar without ``v_num``.

    A lightkit run is named by its directory, and its TensorBoard version is the fixed folder name
    ``tensorboard``: Lightning's bar would show the last four letters of it (``v_num: oard``).
    """

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        """The bar's metrics, less the logger version."""
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


class PlainProgress(pl.Callback):
    """One plain line per epoch, for logs and pipes where a live progress bar would be noise.

    Lightning reduces epoch-level metrics only after every ``*_epoch_end`` hook has run, so the
    line for epoch *e* is printed when epoch *e + 1* starts (or training ends): by then both its
    training and validation metrics are final. What a ``LearningRateMonitor`` logged is taken when
    epoch *e* ends, before the scheduler steps: the line shows the rate epoch *e* trained with.
    """

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream
        self._finished_epoch: int | None = None
        self._trained_with: dict[str, Any] = {}

    def _flush(self, trainer: pl.Trainer) -> None:
        if self._finished_epoch is not None and trainer.is_global_zero:
            metrics = {**trainer.callback_metrics, **self._trained_with}
            line = epoch_line(metrics, self._finished_epoch, trainer.max_epochs)
            print(line, file=self.stream or sys.stdout, flush=True)
        self._finished_epoch = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Remember that an epoch finished, and the optimiser settings it trained with."""
        self._finished_epoch = trainer.current_epoch
        self._trained_with = optimizer_stats(trainer)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the previous epoch's line."""
        self._flush(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the last epoch's line."""
        self._flush(trainer)


def optimizer_stats(trainer: pl.Trainer) -> dict[str, Any]:
    """What every ``LearningRateMonitor`` of ``trainer`` has put into its callback metrics, now.

    These are ``lr-AdamW``, ``lr-AdamW-momentum`` and the like.
    """
    names: set[str] = set()
    for callback in trainer.callbacks:
        if isinstance(callback, LearningRateMonitor):
            for attribute in ("lrs", "last_momentum_values", "last_weight_decay_values"):
                names.update(getattr(callback, attribute, None) or {})
    return {k: v for k, v in trainer.callback_metrics.items() if k in names}


def epoch_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite epoch-level numbers of ``metrics``, named without Lightning's ``_epoch`` suffix."""
    found = {}
    for key, value in sorted(metrics.items()):
        if key.endswith("_step") or f"{key}_epoch" in metrics:
            continue
        number = float(value) if isinstance(value, torch.Tensor) and value.numel() == 1 else value
        if isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number):
            found[key.removesuffix("_epoch")] = float(number)
    return found


def epoch_line(metrics: dict[str, Any], epoch: int, max_epochs: int | None) -> str:
    """``epoch 3/30  train_loss=0.4836  val_acc=0.9722 ...`` for the 0-based ``epoch``."""
    shown = "  ".join(f"{key}={value:.4g}" for key, value in epoch_metrics(metrics).items())
    total = f"/{max_epochs}" if max_epochs and max_epochs > 0 else ""
    return f"epoch {epoch + 1}{total}  " + shown
