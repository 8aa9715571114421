"""``TaggingMLP``: multi-label tagging with one sigmoid output per tag and binary cross-entropy."""

from __future__ import annotations

from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightkit import ConfigError
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MultilabelAUROC, MultilabelF1Score

__all__ = ["TaggingMLP"]


def _metrics(num_tags: int, threshold: float) -> MetricCollection:
    return MetricCollection(
        {
            "f1": MultilabelF1Score(num_tags, threshold=threshold, average=None),
            "auroc": MultilabelAUROC(num_tags, average=None),
        }
    )


class TaggingMLP(pl.LightningModule):
    """Multi-label tagger: an MLP with one sigmoid output per tag, trained with binary cross-entropy.

    A row may carry any number of tags. Batches are dicts ``{"X": features, "y": multi-hot tags}``.
    Logged each epoch: ``{train,val,test}_loss``; for validation and test, macro F1 and AUROC
    (``val_f1_macro``, ``val_auroc_macro``) and, unless ``per_tag_metrics`` is off, the same per
    tag (``val_f1/<tag>``, ``val_auroc/<tag>``) with tag names taken from the data module.
    ``predict`` returns each tag's probability; a tag is predicted when its probability reaches
    ``threshold``.

    Attributes:
        monitor: The metric lightkit's best checkpoint tracks.
        monitor_mode: Lower is better.

    Args:
        hidden_sizes: Width of each hidden layer, input side first.
        dropout: Dropout probability after each hidden layer.
        activation: Activation function of the hidden layers.
        threshold: Decision threshold on each tag's probability, used by F1 and by the 0/1
            columns of the prediction file.
        pos_weight: Weight of the positive examples in the loss; above 1 favours recall of rare tags.
        per_tag_metrics: Log F1 and AUROC of every tag, not only their macro averages.
        lr: Learning rate of the default AdamW optimizer.
        weight_decay: Weight decay of the default AdamW optimizer.
        num_features: Width of the feature tensor ``X``. Set from the data module.
        num_outputs: Number of tags. Set from the data module.
        task: Learning task; must be ``multilabel``. Set from the data module.
    """

    monitor: str = "val_loss"
    monitor_mode: str = "min"

    def __init__(
        self,
        hidden_sizes: list[int] = [128],  # noqa: B006 - jsonargparse shows list defaults in help
        dropout: float = 0.1,
        activation: Literal["relu", "gelu", "tanh"] = "relu",
        threshold: float = 0.5,
        pos_weight: float = 1.0,
        per_tag_metrics: bool = True,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        num_features: int | None = None,
        num_outputs: int | None = None,
        task: str | None = None,
    ) -> None:
        super().__init__()
        if num_features is None or num_outputs is None:
            raise ConfigError(
                "TaggingMLP needs num_features and num_outputs, and the data module did not provide them",
                "use a data module with a `data_shape`, such as TagTableDataModule.",
            )
        if task not in (None, "multilabel"):
            raise ConfigError(
                f"TaggingMLP is for multi-label data, but the data module's task is {task!r}",
                "use TabularMLP for binary, multiclass or regression data.",
            )
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"model.threshold must be between 0 and 1, got {threshold}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {dropout}")
        self.save_hyperparameters()
        acts = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}
        layers: list[nn.Module] = []
        width = num_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), acts[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)
        self.register_buffer("pos_weight", torch.full((num_outputs,), float(pos_weight)), persistent=False)
        self.threshold = threshold
        self.tag_names = [f"tag_{i}" for i in range(num_outputs)]
        self.val_metrics = _metrics(num_outputs, threshold)
        self.test_metrics = _metrics(num_outputs, threshold)

    def setup(self, stage: str) -> None:
        """Name the per-tag metrics after the data module's tags, when it has them."""
        datamodule = getattr(self.trainer, "datamodule", None)
        tags = getattr(datamodule, "tags", None)
        if tags and len(tags) == len(self.tag_names):
            self.tag_names = [str(t) for t in tags]

    def forward(self, x: Tensor) -> Tensor:
        """One logit per tag."""
        return self.net(x)

    def _loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        logits, y = self(batch["X"]), batch["y"].float()
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight)
        return loss, logits.sigmoid(), y.int()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Loss of one training batch."""
        loss, _, y = self._loss(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(y))
        return loss

    def _eval_step(self, batch: dict[str, Tensor], stage: str, metrics: MetricCollection) -> None:
        loss, probs, y = self._loss(batch)
        metrics.update(probs, y)
        self.log(f"{stage}_loss", loss, on_epoch=True, prog_bar=True, batch_size=len(y))

    def _log_metrics(self, stage: str, metrics: MetricCollection) -> None:
        values: dict[str, Any] = metrics.compute()
        metrics.reset()
        macro = {f"{stage}_{metric}_macro": per_tag.mean() for metric, per_tag in values.items()}
        per_tag = {
            f"{stage}_{metric}/{tag}": value
            for metric, scores in values.items()
            for tag, value in zip(self.tag_names, scores, strict=True)
        }
        self.log_dict(macro, prog_bar=True)
        if self.hparams.per_tag_metrics:
            self.log_dict(per_tag)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Validation loss; F1 and AUROC are gathered for the epoch."""
        self._eval_step(batch, "val", self.val_metrics)

    def on_validation_epoch_end(self) -> None:
        """Log macro and per-tag F1 and AUROC of the validation epoch."""
        self._log_metrics("val", self.val_metrics)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Test loss; F1 and AUROC are gathered for the epoch."""
        self._eval_step(batch, "test", self.test_metrics)

    def on_test_epoch_end(self) -> None:
        """Log macro and per-tag F1 and AUROC of the test epoch."""
        self._log_metrics("test", self.test_metrics)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Each tag's probability."""
        return self(batch["X"]).sigmoid()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """AdamW with ``lr`` and ``weight_decay``; ``--optimizer`` on the command line replaces it."""
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
