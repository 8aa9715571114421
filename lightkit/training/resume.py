"""What exact resume needs beyond Lightning's own checkpoint state.

Lightning restores weights, optimizer and scheduler state, and the epoch and step counters.
:class:`RngState` adds the random-number generators (Python, NumPy, torch CPU and CUDA), so that a
run stopped after epoch *k* and resumed ends with the same weights as one that never stopped
(the fast data path's shuffling depends on ``seed + epoch`` only). :class:`RunCSVLogger` appends to
the run's ``metrics.csv`` instead of deleting it when a run directory is reused.
"""

from __future__ import annotations

import csv
import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from lightkit.files import atomic_writer

__all__ = ["RngState", "RunCSVLogger"]

_KEY = "lightkit_rng"


class RngState(pl.Callback):
    """Saves the random-number generators' states in checkpoints and restores them on resume.

    States are stored as tensors and lists of ints, so the checkpoint still loads with
    ``weights_only=True``.
    """

    def state_dict(self) -> dict[str, Any]:
        """Lightning stores callback state under the callback's key; ours lives in the checkpoint dict."""
        return {}

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        """Capture the generators as they are when the checkpoint is written."""
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        version, state, gauss = random.getstate()
        checkpoint[_KEY] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [str(kind), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
            "python": [int(version), list(state), gauss],
        }

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        """Put the generators back, after everything that consumed randomness while setting up."""
        saved = checkpoint.get(_KEY)
        if not saved:
            return
        torch.set_rng_state(saved["torch"])
        if saved["cuda"] and torch.cuda.is_available() and len(saved["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(saved["cuda"])
        kind, keys, pos, has_gauss, cached = saved["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        version, state, gauss = saved["python"]
        random.setstate((version, tuple(state), gauss))


class _AppendingWriter(ExperimentWriter):
    def __init__(self, log_dir: str, rewind_to_epoch: int | None = None) -> None:
        super().__init__(log_dir=log_dir)
        if self._fs.isfile(self.metrics_file_path):  # keep the columns of the rows already there
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                reader = csv.DictReader(file)
                rows = list(reader)
                self.metrics_keys = sorted(reader.fieldnames or [])
            if rewind_to_epoch is not None:
                kept = [r for r in rows if not _after(r, rewind_to_epoch)]
                if len(kept) != len(rows):
                    self._rewrite(kept)

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        """Rewrite ``metrics.csv`` with ``rows`` only: atomically, through a temporary file."""
        with atomic_writer(self.metrics_file_path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(rows)

    def _check_log_dir_exists(self) -> None:
        # Lightning deletes an existing metrics.csv here (a private hook with no public
        # alternative; tests/test_private_hooks.py pins it); a resumed run appends to it instead.
        return None


def _after(row: dict[str, str], epoch: int) -> bool:
    """Whether a metrics row was logged after ``epoch`` (a part-epoch that the resume repeats)."""
    try:
        return float(row.get("epoch") or -1) > epoch
    except ValueError:
        return False


class RunCSVLogger(CSVLogger):
    """A CSVLogger that writes ``metrics.csv`` straight into the run directory and appends on resume.

    Args:
        rewind_to_epoch: When resuming from a checkpoint written at the end of this epoch, rows
            of later epochs (the part of an epoch that was interrupted, and that the resume trains
            again) are dropped first, so that ``metrics.csv`` holds every epoch once.
    """

    def __init__(self, *args: Any, rewind_to_epoch: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rewind_to_epoch = rewind_to_epoch

    @property
    def experiment(self) -> ExperimentWriter:
        """The writer, created on first use."""
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir, rewind_to_epoch=self._rewind_to_epoch)
        return self._experiment
