"""``LeanStepMLP``: ``TabularMLP`` with a leaner training step, to measure what it would gain.

Not a lightkit component: the benchmark's what-if case trains it next to ``TabularMLP`` (see
docs/benchmarks.md). It logs the same names and values with less work per step:

* the training loss is summed in a tensor every step and handed to ``self.log`` only at the
  trainer's logging interval (``train_loss_step``) and once per epoch (``train_loss_epoch``):
  every ``self.log`` call costs Lightning a ``.to(device)`` walk over the logged object;
* metrics are updated every step and computed and logged once per epoch;
* the metrics skip their per-update argument checks (``validate_args``): the data module has
  already put labels and probabilities in the expected form.
"""

from __future__ import annotations

from typing import Any

import torchmetrics
from torch import Tensor

from lightkit.components.tabular_mlp import TabularMLP

__all__ = ["LeanStepMLP"]


class LeanStepMLP(TabularMLP):
    """``TabularMLP`` whose step logs at the logging interval and checks no metric arguments."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for collection in (self.train_metrics, self.val_metrics, self.test_metrics):
            for metric in collection.values():
                metric.validate_args = False
        self._loss_sum: Tensor | None = None
        self._loss_rows = 0

    def _step(self, batch: dict[str, Tensor], stage: str, metrics: torchmetrics.MetricCollection) -> Tensor:
        loss, predictions, y = self._loss_and_predictions(batch)
        if self.task == "binary" or (self.task == "regression" and predictions.shape[1] == 1):
            predictions, y = predictions.reshape(-1), y.reshape(-1)
        metrics.update(predictions, y)
        if stage != "train":
            self.log(f"{stage}_loss", loss, on_epoch=True, prog_bar=True, batch_size=len(y), sync_dist=True)
            return loss
        detached = loss.detach() * len(y)
        self._loss_sum = detached if self._loss_sum is None else self._loss_sum + detached
        self._loss_rows += len(y)
        if self.global_step % self.trainer.log_every_n_steps == 0:
            self.log("train_loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)
        return loss

    def _log_metrics(self, metrics: torchmetrics.MetricCollection, prog_bar: bool) -> None:
        if any(m.update_count for m in metrics.values()):
            self.log_dict(metrics.compute(), prog_bar=prog_bar)
            metrics.reset()

    def on_train_epoch_end(self) -> None:
        if self._loss_sum is not None:
            mean = self._loss_sum / self._loss_rows
            self.log("train_loss_epoch", mean, prog_bar=True, sync_dist=True)
            self._loss_sum, self._loss_rows = None, 0
        self._log_metrics(self.train_metrics, prog_bar=False)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics, prog_bar=True)

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics, prog_bar=True)
