"""``EpochMetricsMLP``: ``TabularMLP`` logging its torchmetrics once per epoch instead of every step.

Not a lightkit component: the benchmark runs it next to ``TabularMLP`` to measure what moving
the metric logging out of the step would gain (see docs/benchmarks.md). Lightning moves every
logged ``Metric`` object to the device on every ``self.log`` call, and ``AUROC`` keeps a growing
list of predictions, so logging it every step costs time that grows with the step count.
"""

from __future__ import annotations

import torchmetrics
from torch import Tensor

from lightkit.components.tabular_mlp import TabularMLP

__all__ = ["EpochMetricsMLP"]


class EpochMetricsMLP(TabularMLP):
    """``TabularMLP`` with the same metrics, updated every step and logged once per epoch."""

    def _step(self, batch: dict[str, Tensor], stage: str, metrics: torchmetrics.MetricCollection) -> Tensor:
        loss, predictions, y = self._loss_and_predictions(batch)
        if self.task == "binary" or (self.task == "regression" and predictions.shape[1] == 1):
            predictions, y = predictions.reshape(-1), y.reshape(-1)
        metrics.update(predictions, y)
        on_step = stage == "train"
        self.log(f"{stage}_loss", loss, on_step=on_step, on_epoch=True, prog_bar=True, batch_size=len(y))
        return loss

    def _log_metrics(self, metrics: torchmetrics.MetricCollection, prog_bar: bool) -> None:
        self.log_dict(metrics.compute(), prog_bar=prog_bar)
        metrics.reset()

    def on_train_epoch_end(self) -> None:
        self._log_metrics(self.train_metrics, prog_bar=False)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics, prog_bar=True)

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics, prog_bar=True)
