"""A callback that keeps what ``predict_step`` returns, so the kit can compare two predict runs."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["PredictionCollector", "collected"]

_COLLECTED: dict[str, list[Any]] = {}


def _detached(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(v) for v in value)
    return value


def collected(key: str) -> list[Any]:
    """The outputs collected under ``key`` (and forgets them)."""
    return _COLLECTED.pop(key, [])


class PredictionCollector(pl.Callback):
    """Keeps every ``predict_step`` output in memory, for the conformance kit's checkpoint check.

    Args:
        key: Name under which the outputs of this run are kept.
    """

    def __init__(self, key: str = "default") -> None:
        self.key = key

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start a fresh list for this run."""
        _COLLECTED[self.key] = []

    def on_predict_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep one batch's outputs, detached and on the CPU."""
        _COLLECTED.setdefault(self.key, []).append(_detached(outputs))
