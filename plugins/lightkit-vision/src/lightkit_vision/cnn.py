"""``SmallCNN``: a small convolutional network for image classification, sized from the data."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from lightkit import ConfigError
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

__all__ = ["SmallCNN"]


def _metrics(num_classes: int) -> MetricCollection:
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
        }
    )


class SmallCNN(pl.LightningModule):
    """A small convolutional network for image classification.

    Each block is a convolution, optional batch normalisation, ReLU and 2x2 max pooling (while
    the image is at least 2 pixels high and wide); global average pooling and a linear layer
    follow. Input channels, image size and number of classes come from the data module.
    Batches are dicts ``{"x": images [N, C, H, W], "y": class indices}``. Logged:
    ``{train,val,test}_loss``, ``acc`` and macro ``f1``. ``predict`` returns class probabilities.

    Attributes:
        monitor: The metric lightkit's best checkpoint tracks.
        monitor_mode: Higher is better.

    Args:
        channels: Output channels of each convolution block, input side first.
        kernel_size: Size of every convolution kernel (odd, so that padding keeps the size).
        batch_norm: Batch normalisation after each convolution.
        dropout: Dropout probability before the final linear layer.
        lr: Learning rate of the default AdamW optimizer.
        weight_decay: Weight decay of the default AdamW optimizer.
        input_shape: Shape of one image, ``[channels, height, width]``. Set from the data module.
        num_outputs: Number of classes. Set from the data module.
        task: Learning task; must be ``multiclass``. Set from the data module.
    """

    monitor: str = "val_acc"
    monitor_mode: str = "max"

    def __init__(
        self,
        channels: list[int] = [16, 32],  # noqa: B006 - jsonargparse shows list defaults in help
        kernel_size: int = 3,
        batch_norm: bool = True,
        dropout: float = 0.1,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        input_shape: list[int] | None = None,
        num_outputs: int | None = None,
        task: str | None = None,
    ) -> None:
        super().__init__()
        if input_shape is None or num_outputs is None:
            raise ConfigError(
                "SmallCNN needs input_shape and num_outputs, and the data module did not provide them",
                "use an image data module with a `data_shape`, such as DigitsDataModule or "
                "ImageFolderDataModule.",
            )
        if len(input_shape) != 3:
            raise ConfigError(f"model.input_shape must be [channels, height, width], got {input_shape}")
        if task not in (None, "multiclass"):
            raise ConfigError(
                f"SmallCNN classifies images into classes, but the data module's task is {task!r}"
            )
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"model.kernel_size must be odd and positive, got {kernel_size}")
        if not channels:
            raise ConfigError("model.channels needs at least one convolution block, got []")
        self.save_hyperparameters()
        in_channels, height, width = input_shape
        blocks: list[nn.Module] = []
        for out_channels in channels:
            blocks.append(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2))
            if batch_norm:
                blocks.append(nn.BatchNorm2d(out_channels))
            blocks.append(nn.ReLU())
            if height >= 2 and width >= 2:
                blocks.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_channels, num_outputs)
        )
        self.train_metrics = _metrics(num_outputs).clone(prefix="train_")
        self.val_metrics = _metrics(num_outputs).clone(prefix="val_")
        self.test_metrics = _metrics(num_outputs).clone(prefix="test_")

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of images ``[N, C, H, W]``."""
        return self.head(self.features(x))

    def _step(self, batch: dict[str, Tensor], stage: str, metrics: MetricCollection) -> Tensor:
        logits, y = self(batch["x"]), batch["y"]
        loss = nn.functional.cross_entropy(logits, y)
        metrics.update(logits, y)
        self.log(
            f"{stage}_loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=True, batch_size=len(y)
        )
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage != "train")
        return loss

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
        """Class probabilities."""
        return self(batch["x"]).softmax(dim=1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """AdamW with ``lr`` and ``weight_decay``; ``--optimizer`` on the command line replaces it."""
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
