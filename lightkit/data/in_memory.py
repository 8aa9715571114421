"""A data-module base for data that fits in memory, served through the fast batch path."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from torch import Tensor

from lightkit.checks import in_range
from lightkit.data.tensor_loader import TensorBatchLoader
from lightkit.errors import ConfigError

__all__ = ["InMemoryDataModule"]

Split = dict[str, Tensor]


class InMemoryDataModule(pl.LightningDataModule):
    """Base for data modules whose splits are tensors in memory.

    Subclasses implement :meth:`build_splits`, returning ``{"train": {...}, "val": {...}, ...}``
    where each split maps names (``x``, ``y``, ...) to tensors with one row per sample. Batches
    then arrive in ``training_step`` as dicts of those names. Shuffling, batching and sharding
    across DDP ranks are handled here with :class:`~lightkit.data.tensor_loader.TensorBatchLoader`:
    no per-row ``__getitem__``, no collate, no worker processes. Validation, test and predict
    batches are views of the split tensors; models should not change a batch in place.

    Args:
        batch_size: Rows per training batch.
        eval_batch_size: Rows per batch for validation, test and predict; defaults to ``4 * batch_size``.
        seed: Seed of the per-epoch shuffling.
    """

    def __init__(self, batch_size: int = 64, eval_batch_size: int | None = None, seed: int = 42) -> None:
        super().__init__()
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if value is not None and value < 1:
                raise ConfigError(
                    f"data.{name} must be at least 1, got {value}",
                    f"pass a positive number of rows per batch, e.g. --data.{name} 256.",
                )
        in_range("data.seed", seed, 0, 2**32 - 1, integer=True)  # what numpy and scikit-learn accept
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self._splits: dict[str, Split] = {}

    def build_splits(self, stage: str | None) -> dict[str, Split]:
        """The tensors of each split ``stage`` needs (``fit``, ``validate``, ``test`` or ``predict``)."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        """Build the splits for ``stage``; called by Lightning on every process."""
        self._splits.update(self.build_splits(stage))

    def _loader(self, split: str, train: bool) -> TensorBatchLoader:
        if split not in self._splits:
            self.setup({"train": "fit", "val": "validate"}.get(split, split))
        trainer: Any = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        return TensorBatchLoader(
            self._splits[split],
            batch_size=self.batch_size if train else (self.eval_batch_size or 4 * self.batch_size),
            shuffle=train,
            seed=self.seed,
            epoch_fn=(lambda: trainer.current_epoch) if trainer is not None else None,
            rank=rank,
            world_size=world,
            # training ranks must step together (padded, as DistributedSampler does); test and
            # predict rows are each served once, so that no row is counted or written twice
            pad=split in ("train", "val"),
        )

    def train_dataloader(self) -> TensorBatchLoader:
        """Shuffled batches of the train split."""
        return self._loader("train", train=True)

    def val_dataloader(self) -> TensorBatchLoader:
        """Batches of the validation split, in order."""
        return self._loader("val", train=False)

    def test_dataloader(self) -> TensorBatchLoader:
        """Batches of the test split, in order."""
        return self._loader("test", train=False)

    def predict_dataloader(self) -> TensorBatchLoader:
        """Batches of the rows to predict, in order."""
        return self._loader("predict", train=False)
