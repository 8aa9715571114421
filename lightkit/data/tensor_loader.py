"""Batches sliced from in-memory tensors: no per-sample ``__getitem__``, no collate.

``TensorBatchLoader`` is what a ``DataLoader(TensorDataset(...), shuffle=True)`` does, minus its
per-row work: one permutation per epoch, then each batch is a single ``index_select`` per tensor,
where the DataLoader calls ``__getitem__`` once per row and collates the rows back into a batch.
Without shuffling (validation, test, predict) batches are slices: views of the tensors, no copy.
It is rank-aware: under DDP each process gets its own equal-sized shard, the way
``DistributedSampler`` pads and splits; or, with ``pad=False`` (test and predict, where a
duplicated row would count twice), rows ``rank, rank + world_size, ...`` and no row twice, with
:meth:`TensorBatchLoader.row_indices` saying which. Timings against the DataLoader are in
docs/benchmarks.md.

Use it in any ``LightningDataModule`` (or use :class:`~lightkit.data.in_memory.InMemoryDataModule`,
which does this for you)::

    def train_dataloader(self):
        return TensorBatchLoader(
            {"x": self.x_train, "y": self.y_train},
            batch_size=self.batch_size,
            shuffle=True,
            seed=self.seed,
            epoch_fn=lambda: self.trainer.current_epoch,
            rank=self.trainer.global_rank,
            world_size=self.trainer.world_size,
        )
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import Tensor

__all__ = ["TensorBatchLoader"]


class TensorBatchLoader:
    """An iterable of dict batches cut from tensors that share their first dimension.

    Each iteration is one epoch. With ``shuffle``, the order of epoch ``e`` is a permutation drawn
    from ``seed + e``, and each batch is a new tensor. Without it, batches are views of the given
    tensors in order: a ``training_step`` that changes its batch in place changes the data.

    Args:
        tensors: Name -> tensor; every tensor has one row per sample.
        batch_size: Rows per batch.
        shuffle: Draw a new permutation every epoch.
        drop_last: Drop the last, smaller batch.
        seed: Seed of the shuffling; the permutation of epoch ``e`` depends on ``seed + e`` only,
            so a resumed run sees the same batches as an uninterrupted one.
        epoch_fn: Returns the current epoch; by default the loader counts its own iterations.
        rank: This process's rank under data parallelism.
        world_size: Number of processes sharing the data.
        pad: Under data parallelism, wrap around so that every rank gets as many rows (as
            ``DistributedSampler`` does: the ranks step together in training). Without it, each
            row goes to exactly one rank and the ranks' shares differ by at most one row.
    """

    def __init__(
        self,
        tensors: Mapping[str, Tensor],
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        epoch_fn: Callable[[], int] | None = None,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank {rank} of world_size {world_size}")
        lengths = {name: len(t) for name, t in tensors.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"all tensors need the same number of rows, got {lengths}")
        self.tensors = dict(tensors)
        self.num_rows = next(iter(lengths.values()), 0)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch_fn = epoch_fn
        self.rank = rank
        self.world_size = world_size
        self.pad = pad
        self._iterations = 0
        self._iterated = False
        self._served: Tensor | None = None  # the last epoch's _indices(); None: all rows in order

    @property
    def rows_per_rank(self) -> int:
        """Rows this process sees in one epoch (with ``pad``, every rank gets as many)."""
        if not self.pad:
            return len(range(self.rank, self.num_rows, self.world_size))
        return math.ceil(self.num_rows / self.world_size) if self.num_rows else 0

    def __len__(self) -> int:
        rows = self.rows_per_rank
        return rows // self.batch_size if self.drop_last else math.ceil(rows / self.batch_size)

    def _indices(self) -> Tensor | None:
        """Row indices of this rank's epoch, or ``None`` for all rows in order (zero-copy slices)."""
        epoch = self.epoch_fn() if self.epoch_fn is not None else self._iterations
        if not self.shuffle and self.world_size == 1:
            return None
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.num_rows, generator=generator)
        else:
            order = torch.arange(self.num_rows)
        if self.world_size > 1 and not self.pad:
            return order[self.rank :: self.world_size]
        if self.world_size > 1:
            total = self.rows_per_rank * self.world_size
            if total > self.num_rows:  # pad by wrapping around, as DistributedSampler does
                order = order.repeat(math.ceil(total / self.num_rows))[:total]
            order = order[self.rank : total : self.world_size]
        return order

    def row_indices(self) -> Tensor:
        """The input rows of this rank's last epoch, in the order served (the coming one before any).

        :class:`~lightkit.components.prediction_writer.PredictionWriter` puts the ranks'
        predictions back in input order with it.
        """
        indices = self._served if self._iterated else self._indices()
        return torch.arange(self.rows_per_rank) if indices is None else indices

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        indices = self._indices()
        self._served, self._iterated = indices, True
        self._iterations += 1
        rows = self.rows_per_rank
        for batch in range(len(self)):
            start, stop = batch * self.batch_size, min((batch + 1) * self.batch_size, rows)
            if indices is None:
                yield {name: t[start:stop] for name, t in self.tensors.items()}
            else:
                idx = indices[start:stop]
                yield {name: t.index_select(0, idx) for name, t in self.tensors.items()}
