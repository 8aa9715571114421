"""``TabularMLP``: a multilayer perceptron for tables, with loss and metrics chosen by task."""

from __future__ import annotations

from typing import Any, Literal

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import Tensor, nn

from lightkit import checks
from lightkit.components.auroc import ExactAUROC
from lightkit.errors import ConfigError

__all__ = ["TabularMLP"]

Task = Literal["binary", "multiclass", "multilabel", "regression"]

#: rows of an epoch's kept predictions handed to the metrics at a time: accuracy's and F1's
#: updates hold ~23 bytes per row in temporaries, so a whole 8M-row epoch at once cost 180 MB
_METRIC_ROWS = 1 << 18

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


def _metrics(task: Task, num_outputs: int) -> torchmetrics.MetricCollection:
    if task == "regression":
        return torchmetrics.MetricCollection(
            {
                "mse": torchmetrics.MeanSquaredError(),
                "mae": torchmetrics.MeanAbsoluteError(),
                "r2": torchmetrics.R2Score(multioutput="uniform_average"),
            }
        )
    # the model produces well-formed tensors itself; skipping torchmetrics' input checks saves
    # about 1 ms per training step (see docs/benchmarks.md)
    kwargs: dict[str, Any] = {"task": task, "validate_args": False}
    if task == "multiclass":
        kwargs["num_classes"] = num_outputs
    elif task == "multilabel":
        kwargs["num_labels"] = num_outputs
    return torchmetrics.MetricCollection(
        {
            "acc": torchmetrics.Accuracy(**kwargs),
            "f1": torchmetrics.F1Score(**kwargs, **({"average": "macro"} if task != "binary" else {})),
            # torchmetrics' exact AUROC holds ~58 bytes per row to compute (ExactAUROC: ~10, same area)
            "auroc": ExactAUROC(task, kwargs.get("num_classes"), kwargs.get("num_labels")),
        }
    )


class _Epoch:
    """What one stage has seen this epoch, kept on the device.

    The loss summed over rows (as Lightning's ``on_epoch`` mean sums it) and, for
    classification, the predictions the metrics are computed from at the end, copied into one
    growing buffer per tensor: a list of two small tensors per step would cost several times the
    predictions themselves in allocator overhead on a long epoch (2M rows: +59 MB against +13 MB).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss: Tensor | None = None
        self.rows = 0
        self._kept: tuple[Tensor, Tensor] | None = None
        self._filled = 0

    def add(self, loss: Tensor, rows: int) -> None:
        weighted = loss.detach() * rows
        self.loss = weighted if self.loss is None else self.loss + weighted
        self.rows += rows

    def keep(self, predictions: Tensor, targets: Tensor) -> None:
        start, stop = self._filled, self._filled + len(predictions)
        if self._kept is None or stop > len(self._kept[0]):
            # capacity doubles: a copy now and then, amortised, instead of an allocation per step
            capacity = max(stop, 2 * len(self._kept[0]) if self._kept is not None else 64 * len(predictions))
            grown = tuple(t.new_empty((capacity, *t.shape[1:])) for t in (predictions, targets))
            if self._kept is not None:
                for new, old in zip(grown, self._kept, strict=True):
                    new[:start] = old[:start]
            self._kept = grown
        self._kept[0][start:stop] = predictions.detach()
        self._kept[1][start:stop] = targets.detach()
        self._filled = stop

    def kept(self) -> tuple[Tensor, Tensor] | None:
        """The epoch's predictions and targets, in the order seen; ``None`` when none were kept."""
        if self._kept is None or not self._filled:
            return None
        return self._kept[0][: self._filled], self._kept[1][: self._filled]


def _logs_this_step(trainer: Any) -> bool:
    """Whether the loggers write this training step's metrics (every ``log_every_n_steps``)."""
    connector = getattr(trainer, "_logger_connector", None)
    should = getattr(connector, "should_update_logs", True)
    return bool(should or getattr(trainer, "fast_dev_run", False))


class TabularMLP(pl.LightningModule):
    """A multilayer perceptron for tabular classification and regression.

    The data module supplies ``task``, ``num_features``, ``num_outputs`` and, for regression,
    the target statistics; they are never typed by hand (see the data-shape convention).
    Logged metrics: ``{train,val,test}_loss`` and, by task, ``acc``, ``f1`` and ``auroc`` (the
    exact area, macro-averaged over classes) for classification or ``mse``, ``mae`` and ``r2``
    for regression.

    Attributes:
        monitor: The metric lightkit's best checkpoint tracks.
        monitor_mode: Whether lower (``min``) or higher (``max``) is better.

    Args:
        hidden_sizes: Width of each hidden layer, input side first.
        dropout: Dropout probability after each hidden layer.
        batch_norm: Batch normalisation before each activation.
        activation: Activation function of the hidden layers.
        lr: Learning rate of the default AdamW optimizer.
        weight_decay: Weight decay of the default AdamW optimizer.
        embedding_dim: Width of each categorical embedding (data with ``categorical_encoding: embedding``).
        task: Learning task. Set from the data module.
        num_features: Number of float input features. Set from the data module.
        num_outputs: Output units: 1 for binary, else classes, labels or targets. Set from the data module.
        category_sizes: Vocabulary size per embedded categorical column. Set from the data module.
        target_mean: Regression target means, to standardise targets. Set from the data module.
        target_std: Regression target standard deviations. Set from the data module.
    """

    monitor: str = "val_loss"
    monitor_mode: str = "min"

    def __init__(
        self,
        hidden_sizes: list[int] = [128, 64],  # noqa: B006 - jsonargparse shows list defaults in help
        dropout: float = 0.1,
        batch_norm: bool = True,
        activation: Literal["relu", "gelu", "silu", "tanh", "leaky_relu"] = "relu",
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        embedding_dim: int = 8,
        task: Task | None = None,
        num_features: int | None = None,
        num_outputs: int | None = None,
        category_sizes: list[int] | None = None,
        target_mean: list[float] | None = None,
        target_std: list[float] | None = None,
    ) -> None:
        super().__init__()
        if task is None or num_features is None or num_outputs is None:
            raise ConfigError(
                "TabularMLP needs task, num_features and num_outputs, and the data module did not provide them",
                "use a data module that exposes `data_shape`, such as CSVDataModule or SklearnDataModule "
                "(see 'Data shape' in docs/concepts.md).",
            )
        # every number in its domain before torch sees it (lightkit.checks)
        checks.fraction("model.dropout", dropout)
        checks.positive("model.lr", lr)
        checks.non_negative("model.weight_decay", weight_decay)
        checks.positive("model.embedding_dim", embedding_dim, integer=True)
        checks.positive_each("model.hidden_sizes", hidden_sizes)
        checks.positive("model.num_features", num_features, integer=True)
        checks.positive("model.num_outputs", num_outputs, integer=True)
        checks.positive_each("model.category_sizes", category_sizes or [])
        self.save_hyperparameters()
        self.task: Task = task
        self.embeddings = nn.ModuleList(nn.Embedding(size, embedding_dim) for size in category_sizes or [])
        width = num_features + embedding_dim * len(self.embeddings)
        layers: list[nn.Module] = []
        for size in hidden_sizes:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)
        # one row: Lightning's model summary runs it to count FLOPs per row (and shows the sizes)
        row = torch.zeros(1, num_features)
        self.example_input_array = (row, torch.zeros(1, len(self.embeddings), dtype=torch.long)) if len(self.embeddings) else row
        mean = torch.tensor(target_mean or [0.0] * num_outputs, dtype=torch.float32)
        std = torch.tensor(target_std or [1.0] * num_outputs, dtype=torch.float32)
        self.register_buffer("target_mean", mean, persistent=False)
        self.register_buffer("target_std", std, persistent=False)
        self.train_metrics = _metrics(task, num_outputs).clone(prefix="train_")
        self.val_metrics = _metrics(task, num_outputs).clone(prefix="val_")
        self.test_metrics = _metrics(task, num_outputs).clone(prefix="test_")
        self._epochs = {stage: _Epoch() for stage in ("train", "val", "test")}

    def forward(self, x: Tensor, x_cat: Tensor | None = None) -> Tensor:
        """Raw outputs: logits for classification, standardised values for regression."""
        if len(self.embeddings):
            if x_cat is None:
                raise ValueError("this model embeds categories: batches need an 'x_cat' tensor")
            x = torch.cat([x, *(emb(x_cat[:, i]) for i, emb in enumerate(self.embeddings))], dim=1)
        return self.net(x)

    def _outputs(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch["x"], batch.get("x_cat"))

    def _loss_and_predictions(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        raw, y = self._outputs(batch), batch["y"]
        if self.task == "multiclass":
            return nn.functional.cross_entropy(raw, y), raw.softmax(dim=1), y
        if self.task in ("binary", "multilabel"):
            y = y.float().reshape(raw.shape)
            # 0/1 labels kept for the epoch's metrics in one byte each (int32: 24 MB more per 8M rows)
            return nn.functional.binary_cross_entropy_with_logits(raw, y), raw.sigmoid(), y.to(torch.uint8)
        y = y.reshape(raw.shape)
        loss = nn.functional.mse_loss(raw, (y - self.target_mean) / self.target_std)
        return loss, raw * self.target_std + self.target_mean, y

    def _step(self, batch: dict[str, Tensor], stage: str, metrics: torchmetrics.MetricCollection) -> Tensor:
        loss, predictions, y = self._loss_and_predictions(batch)
        if self.task == "binary":
            predictions, y = predictions.reshape(-1), y.reshape(-1)
        elif self.task == "regression" and predictions.shape[1] == 1:
            predictions, y = predictions.reshape(-1), y.reshape(-1)
        epoch = self._epochs[stage]
        # Nothing here waits for the device: the loss is summed on it, and classification
        # predictions are kept for metrics computed once per epoch (torchmetrics' per-batch update
        # asks the device whether the inputs are probabilities; the regression updates do not).
        epoch.add(loss, len(y))
        if self.task == "regression":
            metrics.update(predictions, y)
        else:
            epoch.keep(predictions, y)
        if stage == "train" and _logs_this_step(self.trainer):
            # what self.log(on_step=True) would show, only on the steps the loggers write
            # sync_dist: under DDP the logged loss is the mean over all ranks, not rank 0's shard
            self.log("train_loss_step", loss, on_step=True, on_epoch=False, prog_bar=True, sync_dist=True)
        return loss

    def _log_epoch(self, stage: str, metrics: torchmetrics.MetricCollection, prog_bar: bool) -> None:
        epoch = self._epochs[stage]
        loss, rows = epoch.loss, epoch.rows
        if self.trainer.world_size > 1:
            # The mean over every rank's rows: loss sums and row counts summed across the ranks,
            # then divided (the ranks' test shares differ by a row; a mean of means would weigh
            # their rows unequally). Every rank takes part, even one that saw no rows.
            totals = torch.stack([loss.float() if loss is not None else self._zero(), self._zero() + rows])
            totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
            loss, rows = totals[0], int(totals[1].item())
        if rows:
            # the rows-weighted mean Lightning's on_epoch logging computes, under the same names;
            # sync_dist: it is the same figure on every rank now, and Lightning then knows it is synced
            name = "train_loss_epoch" if stage == "train" else f"{stage}_loss"
            self.log(name, loss / rows, prog_bar=True, batch_size=1, sync_dist=True)
        kept = epoch.kept()
        if kept is not None:
            for predictions, targets in zip(*(t.split(_METRIC_ROWS) for t in kept), strict=True):
                metrics.update(predictions, targets)
        del kept
        epoch.reset()
        self._log_epoch_metrics(metrics, prog_bar=prog_bar or stage != "train")

    def _zero(self) -> Tensor:
        return torch.zeros((), device=self.device)

    def _log_epoch_metrics(self, metrics: torchmetrics.MetricCollection, prog_bar: bool) -> None:
        # Metrics are computed and logged once per epoch: logging a MetricCollection every step
        # costs more than the step itself on small networks.
        if not any(m.update_count for m in metrics.values()):
            return
        # compute() already gathers across DDP ranks; sync_dist only tells Lightning so (no-op on one process)
        self.log_dict(metrics.compute(), prog_bar=prog_bar, sync_dist=True)
        metrics.reset()

    def on_train_epoch_start(self) -> None:
        """Start the epoch's loss sum afresh."""
        self._epochs["train"].reset()

    def on_validation_epoch_start(self) -> None:
        """Start the epoch's loss sum afresh (the sanity check's batches are not kept)."""
        self._epochs["val"].reset()

    def on_test_epoch_start(self) -> None:
        """Start the loss sum afresh."""
        self._epochs["test"].reset()

    def on_train_epoch_end(self) -> None:
        """Log the epoch's training loss and metrics."""
        self._log_epoch("train", self.train_metrics, prog_bar=False)

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's validation loss and metrics."""
        self._log_epoch("val", self.val_metrics, prog_bar=True)

    def on_test_epoch_end(self) -> None:
        """Log the test loss and metrics."""
        self._log_epoch("test", self.test_metrics, prog_bar=True)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Loss of one training batch."""
        return self._step(batch, "train", self.train_metrics)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Validation loss and metrics."""
        self._step(batch, "val", self.val_metrics)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Test loss and metrics."""
        self._step(batch, "test", self.test_metrics)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Probabilities for classification, values in target units for regression."""
        raw = self._outputs(batch)
        if self.task == "multiclass":
            return raw.softmax(dim=1)
        if self.task in ("binary", "multilabel"):
            return raw.sigmoid()
        return raw * self.target_std + self.target_mean

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """AdamW with ``lr`` and ``weight_decay``; ``--optimizer`` on the command line replaces it."""
        # foreach: one multi-tensor call per update step instead of a Python loop over the parameters,
        # the same arithmetic (bit for bit; PyTorch's default on GPUs, not on CPUs). A small network's
        # step on a CPU spends more in that loop than in the updates (docs/benchmarks.md).
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay, foreach=True
        )
