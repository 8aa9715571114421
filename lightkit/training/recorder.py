"""``RunRecorder``: the run record (``versions.json``, ``state.json``), the config inside every
checkpoint, and a stop at the first non-finite loss.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from lightkit.checkpoints import CONFIG_KEY
from lightkit.errors import LightkitError
from lightkit.runs import write_state, write_versions

__all__ = ["NonFiniteLossError", "RunRecorder"]


class NonFiniteLossError(LightkitError):
    """The training loss became NaN or infinite."""


class RunRecorder(pl.Callback):
    """Writes ``config.yaml`` and ``versions.json`` into the run directory, and puts the resolved
    config into every checkpoint, so that ``predict``/``test`` can rebuild the run from it alone.

    It also stops training with a clear message when the loss is NaN or infinite.
    """

    def __init__(
        self, run_dir: Path | None, config_yaml: str, versions: dict[str, Any], write_config: bool = True
    ) -> None:
        """Args:
        run_dir: Where the record goes; ``None``: the trainer's ``log_dir`` (a LightningCLI script's
            ``lightning_logs/version_N``).
        config_yaml: The resolved config, stored in every checkpoint.
        versions: The ``versions.json`` record.
        write_config: Write ``config.yaml`` too (a script's ``SaveConfigCallback`` writes it otherwise).
        """
        self.run_dir = run_dir
        self.config_yaml = config_yaml
        self.versions = versions
        self.write_config = write_config

    def _dir(self, trainer: pl.Trainer) -> Path | None:
        if self.run_dir is not None:
            return self.run_dir
        return Path(trainer.log_dir) if trainer.log_dir else None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Write the run record on rank zero."""
        run_dir = self._dir(trainer) if stage == "fit" else None
        self.run_dir = run_dir
        if run_dir is None or not trainer.is_global_zero:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        if self.write_config:
            (run_dir / "config.yaml").write_text(self.config_yaml)
        write_versions(run_dir, self.versions)
        ckpt = _monitoring_checkpoint(trainer)
        write_state(run_dir, "running", monitor=getattr(ckpt, "monitor", None), mode=getattr(ckpt, "mode", None))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Mark the run ``finished`` in ``state.json`` (read by ``lightkit runs``)."""
        if self.run_dir is not None and trainer.is_global_zero:
            score = getattr(_monitoring_checkpoint(trainer), "best_model_score", None)
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
        classes = {"model": _class_path(pl_module)}
        if trainer.datamodule is not None:
            classes["data"] = _class_path(trainer.datamodule)
        checkpoint[CONFIG_KEY] = {"config": self.config_yaml, "versions": dict(self.versions), "classes": classes}

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


def _monitoring_checkpoint(trainer: pl.Trainer) -> Any:
    """lightkit's ``best.ckpt`` callback if there is one, else the trainer's first ModelCheckpoint."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    found = [c for c in getattr(trainer, "callbacks", []) if isinstance(c, ModelCheckpoint) and c.monitor]
    ours = [c for c in found if type(c).__name__ == "BestCheckpoint"]
    return (ours or found or [trainer.checkpoint_callback])[0]


def _class_path(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _check_loss(trainer: pl.Trainer, loss: Any, run_dir: Path | None) -> None:
    if not isinstance(loss, torch.Tensor):
        return
    # a scalar loss is read once (the device sync that bool() of a tensor makes too), not checked by
    # three tensor operations: a tenth of the check's cost on a CPU step
    if math.isfinite(loss.item()) if loss.numel() == 1 else bool(torch.isfinite(loss.detach()).all()):
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
