"""Callbacks the CLI adds to runs: the run record, plain-text progress, atomic checkpoint files."""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lightkit.checkpoints import CONFIG_KEY
from lightkit.cli.runs import write_state
from lightkit.errors import LightkitError
from lightkit.runs import write_versions

__all__ = ["AtomicCheckpointIO", "NonFiniteLossError", "PlainProgress", "RunRecorder"]


class NonFiniteLossError(LightkitError):
    """The training loss became NaN or infinite."""


class RunRecorder(pl.Callback):
    """Writes ``config.yaml`` and ``versions.json`` into the run directory, and puts the resolved
    config into every checkpoint, so that ``predict``/``test`` can rebuild the run from it alone.

    It also stops training with a clear message when the loss is NaN or infinite.
    """

    def __init__(self, run_dir: Path | None, config_yaml: str, versions: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.config_yaml = config_yaml
        self.versions = versions

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Write the run record on rank zero."""
        if self.run_dir is None or not trainer.is_global_zero:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(self.config_yaml)
        write_versions(self.run_dir, self.versions)
        ckpt = trainer.checkpoint_callback
        write_state(self.run_dir, "running", monitor=getattr(ckpt, "monitor", None), mode=getattr(ckpt, "mode", None))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Mark the run ``finished`` in ``state.json`` (read by ``lightkit runs``)."""
        if self.run_dir is not None and trainer.is_global_zero:
            score = getattr(trainer.checkpoint_callback, "best_model_score", None)
            write_state(self.run_dir, "finished", best_score=float(score) if score is not None else None)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """Mark the run ``interrupted`` (Ctrl+C, SIGTERM) or ``failed`` in ``state.json``."""
        if self.run_dir is None or not trainer.is_global_zero:
            return
        stopped = isinstance(exception, KeyboardInterrupt) or type(exception).__name__ == "SIGTERMException"
        error = f"{type(exception).__name__}: {str(exception).splitlines()[0] if str(exception) else ''}"
        write_state(self.run_dir, "interrupted" if stopped else "failed", error=error[:300])

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        """Store the resolved config and versions in the checkpoint (plain strings and numbers)."""
        checkpoint[CONFIG_KEY] = {"config": self.config_yaml, "versions": dict(self.versions)}

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        """Stop at the first non-finite loss, before it reaches the weights or any checkpoint."""
        _check_loss(trainer, loss, self.run_dir)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """The same check for a loss that never went through ``backward`` (manual optimisation).

        Under automatic optimisation ``on_before_backward`` has already checked this loss; checking
        again would cost a second device-to-host sync every step.
        """
        if pl_module.automatic_optimization:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        _check_loss(trainer, loss, self.run_dir)


def _check_loss(trainer: pl.Trainer, loss: Any, run_dir: Path | None) -> None:
    if not isinstance(loss, torch.Tensor) or bool(torch.isfinite(loss.detach()).all()):
        return
    value = loss.detach().float().reshape(-1)
    bad = value[~torch.isfinite(value)][0].item()
    batch = trainer.fit_loop.epoch_loop.batch_progress.current.ready - 1
    raise NonFiniteLossError(
        f"training loss is {bad} at epoch {trainer.current_epoch}, global step {trainer.global_step} "
        f"(batch {batch}); training stopped before the update\n{_kept(trainer, run_dir)}",
        "lower the learning rate (--model.lr), check the data for extreme values, or add "
        "--trainer.gradient_clip_val 1.0.",
    )


def _kept(trainer: pl.Trainer, run_dir: Path | None) -> str:
    """Which checkpoints survive a stopped run: the files are only ever replaced whole."""
    folder = Path(getattr(trainer.checkpoint_callback, "dirpath", None) or (run_dir or Path(".")) / "checkpoints")
    found = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
    if not found:
        return "no checkpoint had been written yet"
    try:
        shown = folder.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = folder
    return f"the last good checkpoints are kept in {shown}: {', '.join(found)}"


class PlainProgress(pl.Callback):
    """One plain line per epoch, for logs and pipes where a live progress bar would be noise.

    Lightning reduces epoch-level metrics only after every ``*_epoch_end`` hook has run, so the
    line for epoch *e* is printed when epoch *e + 1* starts (or training ends): by then both its
    training and validation metrics are final.
    """

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream
        self._finished_epoch: int | None = None

    def _flush(self, trainer: pl.Trainer) -> None:
        if self._finished_epoch is not None and trainer.is_global_zero:
            print(_epoch_line(trainer, self._finished_epoch), file=self.stream or sys.stdout, flush=True)
        self._finished_epoch = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Remember that an epoch finished; its metrics are not reduced yet."""
        self._finished_epoch = trainer.current_epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the previous epoch's line."""
        self._flush(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the last epoch's line."""
        self._flush(trainer)


def _epoch_line(trainer: pl.Trainer, epoch: int) -> str:
    metrics = []
    for key, value in sorted(trainer.callback_metrics.items()):
        if key.endswith("_step") or f"{key}_epoch" in trainer.callback_metrics:
            continue
        number = float(value) if isinstance(value, torch.Tensor) and value.numel() == 1 else None
        if number is not None and math.isfinite(number):
            metrics.append(f"{key.removesuffix('_epoch')}={number:.4g}")
    total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
    return f"epoch {epoch + 1}{total}  " + "  ".join(metrics)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves checkpoints atomically: a temporary file in the same directory, fsync, then rename.

    A crash or ``kill -9`` in the middle of a save leaves the previous file intact, never a
    truncated ``last.ckpt``. Loading uses ``weights_only=True`` unless ``LIGHTKIT_UNSAFE_LOAD=1``.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Write ``checkpoint`` to ``path`` atomically."""
        fs = get_filesystem(path)
        if fs.protocol not in ("file", ("file", "local")) and "file" not in getattr(fs, "protocol", ()):
            return super().save_checkpoint(checkpoint, path, storage_options)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file torch.save's usual mode
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return None

    def load_checkpoint(self, path: Any, map_location: Any | None = None, weights_only: bool | None = None) -> dict:
        """Load with the weights-only unpickler unless the user opted out."""
        from lightkit.checkpoints import load_checkpoint

        return load_checkpoint(path)
